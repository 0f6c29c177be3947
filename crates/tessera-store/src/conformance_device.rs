//! Conformance cases for [`DeviceStore`] (RFC 8628): the poll states,
//! `slow_down`, approval and denial, and exactly one redemption.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_core::amr::Amr;
use tessera_core::scope::ScopeSet;
use tessera_core::secret::Digest;
use tessera_core::store::{DeviceApproval, DeviceCode, DeviceStatus, Poll, Store, StoreError};

pub fn approval(auth_time: i64) -> DeviceApproval {
    DeviceApproval { user_id: "u1".into(), auth_time, amr: Amr::Pwd.into() }
}

pub fn device(n: u8) -> DeviceCode {
    DeviceCode {
        device_digest: Digest::of(&[n, 4]),
        user_digest: Digest::of(&[n, 5]),
        client_id: "tv".into(),
        scope: ScopeSet::parse("openid offline_access").unwrap(),
        audience: vec!["https://api.example".into()],
        grant_id: format!("dev-grant-{n}"),
        created_at: 100,
        expires_at: 700,
        interval: 5,
        last_poll_at: None,
        status: DeviceStatus::Pending,
    }
}

pub async fn device_flow_states(s: Arc<dyn Store>) {
    let d = device(1);
    s.insert_device(&d).await.unwrap();
    let mut dup = device(2);
    dup.user_digest = d.user_digest;
    assert_eq!(s.insert_device(&dup).await, Err(StoreError::Conflict), "user codes are unique");
    assert_eq!(s.find_device(&d.user_digest, 110).await.unwrap().map(|x| x.grant_id), Some("dev-grant-1".into()));
    let poll = |now: i64, client: &'static str| {
        let s = s.clone();
        let dd = d.device_digest;
        async move { s.poll_device(&dd, &client.into(), now, 5000).await.unwrap() }
    };
    assert_eq!(poll(110, "tv").await, Poll::Pending);
    assert_eq!(poll(112, "tv").await, Poll::SlowDown(10), "polled 2 s after the last: +5 s");
    assert_eq!(poll(121, "tv").await, Poll::SlowDown(15), "9 s < 10 s");
    assert_eq!(poll(140, "tv").await, Poll::Pending);
    assert_eq!(poll(160, "other").await, Poll::Invalid, "another client's code");
    assert!(s.decide_device(&d.user_digest, 150, Some(approval(145))).await.unwrap());
    assert!(!s.decide_device(&d.user_digest, 151, None).await.unwrap(), "decided once");
    assert!(s.find_device(&d.user_digest, 152).await.unwrap().is_none(), "no longer pending");
    match poll(160, "tv").await {
        Poll::Approved(code) => {
            assert_eq!(code.status, DeviceStatus::Approved(approval(145)))
        }
        other => panic!("expected approval, got {other:?}"),
    }
    let g = s.get_grant("dev-grant-1").await.unwrap().expect("the grant is stored with the redemption");
    assert_eq!((g.user_id.as_str(), g.expires_at), ("u1", 5000));
    assert_eq!(poll(180, "tv").await, Poll::Invalid, "redeemed once");

    let denied = device(3);
    s.insert_device(&denied).await.unwrap();
    assert!(s.decide_device(&denied.user_digest, 120, None).await.unwrap());
    assert_eq!(s.poll_device(&denied.device_digest, &"tv".into(), 130, 5000).await.unwrap(), Poll::Denied);
    let late = device(4);
    s.insert_device(&late).await.unwrap();
    assert!(!s.decide_device(&late.user_digest, 700, None).await.unwrap(), "expired codes cannot be decided");
    assert_eq!(s.poll_device(&late.device_digest, &"tv".into(), 700, 5000).await.unwrap(), Poll::Expired);
    assert_eq!(s.poll_device(&Digest::of(b"?"), &"tv".into(), 130, 5000).await.unwrap(), Poll::Invalid);
}

pub async fn concurrent_device_polls_redeem_once(s: Arc<dyn Store>) {
    let d = device(1);
    s.insert_device(&d).await.unwrap();
    assert!(s.decide_device(&d.user_digest, 110, Some(approval(105))).await.unwrap());
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks
            .push(tokio::spawn(async move { s.poll_device(&d.device_digest, &"tv".into(), 200, 5000).await.unwrap() }));
    }
    let mut approved = 0;
    for t in tasks {
        match t.await.unwrap() {
            Poll::Approved(_) => approved += 1,
            Poll::SlowDown(_) | Poll::Invalid => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(approved, 1);
}
