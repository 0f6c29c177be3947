//! Test harness: runs the real `tessera` binary on an ephemeral port with its
//! own data directory, and talks to it over real HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod dpop;
pub mod pg;
pub mod signin;

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

pub struct Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub child: Option<Child>,
    pub log: PathBuf,
    extra: Vec<(String, String)>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// `env`: extra environment for the server process.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let mut s = Server {
            port: free_port(),
            dir,
            child: None,
            log,
            extra: env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
        };
        s.spawn();
        s
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (or restarts) the server process and waits until it answers.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env("TESSERA_DATA_DIR", self.data_dir())
            .env_remove("TESSERA_ISSUER")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = reqwest::blocking_get(&self.url("/healthz"))
                && r == 200
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("server exited with {status}: {}", self.logs());
            }
            assert!(Instant::now() < deadline, "server did not start: {}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `tessera ARGS` against this server's data directory.
    /// With the server's extra environment (its database, its master key).
    pub fn cli(&self, args: &[&str]) -> Output {
        let extra: Vec<(&str, &str)> = self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        cli_env(&self.data_dir(), &self.issuer(), args, &extra)
    }

    /// `tessera client create … --json`, returning (client_id, client_secret).
    pub fn create_client(&self, extra: &[&str]) -> (String, String) {
        let mut args = vec!["client", "create", "--name", "test", "--grant-type", "client_credentials", "--json"];
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        assert!(out.status.success(), "client create failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["client_id"].as_str().unwrap().into(), v["client_secret"].as_str().unwrap().into())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn cli_in(data_dir: &Path, issuer: &str, args: &[&str]) -> Output {
    cli_env(data_dir, issuer, args, &[])
}

pub fn cli_env(data_dir: &Path, issuer: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("TESSERA_DATA_DIR", data_dir).env("TESSERA_ISSUER", issuer).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A tiny blocking GET for start-up polling, without a runtime.
mod reqwest {
    use std::io::{Read, Write};
    pub fn blocking_get(url: &str) -> std::io::Result<u16> {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
        let mut s = std::net::TcpStream::connect(host)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        Ok(buf.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
    }
}

/// An async HTTP client for the tests.
pub fn http() -> ::reqwest::Client {
    ::reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

pub async fn token(s: &Server, id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let mut f = vec![("grant_type", "client_credentials")];
    f.extend_from_slice(form);
    let r = http().post(s.url("/oauth2/token")).basic_auth(id, Some(secret)).form(&f).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn access_token(s: &Server, id: &str, secret: &str) -> String {
    let (st, v) = token(s, id, secret, &[]).await;
    assert_eq!(st, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

pub async fn introspect(s: &Server, id: &str, secret: &str, tok: &str) -> Value {
    let r = http()
        .post(s.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub async fn revoke(s: &Server, id: &str, secret: &str, tok: &str) -> u16 {
    let r =
        http().post(s.url("/oauth2/revoke")).basic_auth(id, Some(secret)).form(&[("token", tok)]).send().await.unwrap();
    r.status().as_u16()
}
