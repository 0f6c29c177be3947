//! The command line: JSON output with RFC 7591 names, one-line errors with a
//! non-zero exit, and start-up refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let o = cli_in(dir, "http://127.0.0.1:8080", args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// A data directory set up as an operator would before a server ever ran
/// (`tessera migrate`): other commands refuse to create one.
fn deployment() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let (code, _, err) = run(d.path(), &["migrate"]);
    assert_eq!(code, 0, "{err}");
    d
}

#[test]
fn client_lifecycle_and_json() {
    let d = deployment();
    let (code, out, _) = run(
        d.path(),
        &[
            "client",
            "create",
            "--name",
            "svc",
            "--id",
            "svc-1",
            "--grant-type",
            "client_credentials",
            "--scope",
            "inventory:read inventory:write",
            "--audience",
            "https://api.example",
            "--token-format",
            "opaque",
            "--access-token-ttl",
            "10m",
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["client_id"], "svc-1");
    assert_eq!(v["grant_types"], serde_json::json!(["client_credentials"]));
    assert_eq!(v["scope"], "inventory:read inventory:write");
    assert_eq!(v["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(v["access_token_ttl"], 600);
    let secret = v["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("tsr_cs_") && secret.len() == 50, "256-bit secret");

    // The secret is shown once, stored only as a digest.
    let (_, shown, _) = run(d.path(), &["client", "show", "svc-1", "--json"]);
    assert!(!shown.contains(secret) && serde_json::from_str::<Value>(&shown).unwrap().get("client_secret").is_none());
    let db = std::fs::read(d.path().join("tessera.db")).unwrap();
    let wal = std::fs::read(d.path().join("tessera.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "secret stored in the clear");
    }

    let (_, list, _) = run(d.path(), &["client", "list", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&list).unwrap().as_array().unwrap().len(), 1);
    let (code, rot, _) = run(d.path(), &["client", "rotate-secret", "svc-1", "--json"]);
    assert_eq!(code, 0);
    assert_ne!(serde_json::from_str::<Value>(&rot).unwrap()["client_secret"].as_str().unwrap(), secret);

    // Mint prints the token alone; inspect explains it.
    let (code, tok, _) =
        run(d.path(), &["token", "mint", "--client", "svc-1", "--scope", "inventory:read", "--ttl", "5m"]);
    assert_eq!(code, 0);
    let tok = tok.trim();
    assert!(tok.starts_with("tsr_at_") && !tok.contains('\n'));
    let (code, insp, _) = run(d.path(), &["token", "inspect", tok]);
    assert_eq!(code, 0);
    let i: Value = serde_json::from_str(&insp).unwrap();
    assert_eq!((i["valid"].as_bool(), i["claims"]["scope"].as_str()), (Some(true), Some("inventory:read")));
    let (code, insp, err) = run(d.path(), &["token", "inspect", "not-a-token"]);
    assert_eq!(code, 1);
    assert_eq!(serde_json::from_str::<Value>(&insp).unwrap()["valid"], false);
    assert_eq!(err.lines().count(), 1, "{err}");

    let (code, out, _) = run(d.path(), &["client", "delete", "svc-1"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let d = deployment();
    let cases: &[&[&str]] = &[
        &["client", "show", "nope"],
        &["client", "delete", "nope"],
        &["client", "rotate-secret", "nope"],
        &["client", "create", "--name", "x", "--grant-type", "password"],
        &["client", "create", "--name", "x", "--grant-type", "client_credentials", "--audience", "not a uri"],
        &["client", "create", "--name", "x", "--grant-type", "client_credentials", "--access-token-ttl", "forever"],
        &["client", "create", "--name", "x", "--grant-type", "client_credentials", "--scope", "bad\"scope"],
        &["token", "mint", "--client", "nope"],
        &["--signing-alg", "HS256", "client", "list"],
        &["--issuer", "http://auth.example.com", "client", "list"],
    ];
    for args in cases {
        let (code, out, err) = run(d.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    let (code, _, _) =
        run(d.path(), &["client", "create", "--name", "x", "--grant-type", "client_credentials", "--id", "dup"]);
    assert_eq!(code, 0);
    let (code, _, err) =
        run(d.path(), &["client", "create", "--name", "x", "--grant-type", "client_credentials", "--id", "dup"]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn serve_refuses_plain_http_issuer_off_loopback() {
    let d = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--issuer", "http://auth.example.com"])
        .env("TESSERA_DATA_DIR", d.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("must use https"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);
}

#[test]
fn config_file_and_env_are_read() {
    let d = deployment();
    let cfg = d.path().join("t.toml");
    std::fs::write(&cfg, "issuer = \"https://from-file.example\"\nnot_a_setting = 1\n").unwrap();
    let (code, _, err) = run(d.path(), &["--config", cfg.to_str().unwrap(), "client", "list"]);
    assert_eq!(code, 1, "unknown keys are refused");
    assert!(err.contains("not_a_setting"), "{err}");
    std::fs::write(&cfg, "signing_alg = \"ES256\"\n").unwrap();
    let (code, _, _) = run(
        d.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "client",
            "create",
            "--name",
            "x",
            "--id",
            "c",
            "--grant-type",
            "client_credentials",
        ],
    );
    assert_eq!(code, 0);
    let (_, tok, _) = run(d.path(), &["--config", cfg.to_str().unwrap(), "token", "mint", "--client", "c"]);
    let header = tok.split('.').next().unwrap();
    let header = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(header).unwrap();
    assert!(String::from_utf8(header).unwrap().contains("ES256"));
}

#[test]
fn only_serve_and_migrate_create_a_data_directory() {
    let d = tempfile::tempdir().unwrap();
    let wrong = d.path().join("wrong/path");
    let commands: &[&[&str]] = &[
        &["client", "list"],
        &["client", "create", "--name", "x", "--grant-type", "client_credentials"],
        &["token", "mint", "--client", "x"],
        &["token", "inspect", "tsr_at_x"],
        &["key", "list"],
        &["key", "rotate"],
        &["user", "list"],
        &["scope", "list"],
        &["grant", "list"],
        &["backup", "/nonexistent/backup.db"],
    ];
    for args in commands {
        let (code, out, err) = run(&wrong, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(&format!("data directory {} does not exist", wrong.display())), "{args:?}: {err}");
        assert!(!wrong.exists(), "{args:?} created {}", wrong.display());
    }
    // An existing directory without a master key, or without a database, is no deployment either.
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, _, err) = run(&empty, &["client", "list"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("master key {}", empty.join("master.key").display())), "{err}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing created");
    std::fs::write(empty.join("master.key"), [7u8; 32]).unwrap();
    std::fs::set_permissions(empty.join("master.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (code, _, err) = run(&empty, &["client", "list"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("database {}", empty.join("tessera.db").display())), "{err}");
    assert!(!empty.join("tessera.db").exists());

    // `migrate` sets one up; then the other commands work on it.
    let (code, _, err) = run(&wrong, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    assert!(wrong.join("master.key").exists() && wrong.join("tessera.db").exists());
    let (code, out, err) = run(&wrong, &["client", "list", "--json"]);
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");
}

#[tokio::test]
async fn cli_uses_the_issuer_the_server_records() {
    // The server runs with an issuer of its own; the CLI is not told it.
    let issuer = "http://localhost:8099";
    let mut s = Server::start_with(&[("TESSERA_ISSUER", issuer)]);
    let (id, secret) = s.create_client(&[]);
    let data_dir = s.data_dir();
    let cli = |issuer: Option<&str>, args: &[&str]| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(args).env("TESSERA_DATA_DIR", &data_dir).env_remove("TESSERA_ISSUER");
        if let Some(i) = issuer {
            cmd.env("TESSERA_ISSUER", i);
        }
        cmd.output().unwrap()
    };
    let out = cli(None, &["token", "mint", "--client", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tok = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let i = introspect(&s, &id, &secret, &tok).await;
    assert_eq!((i["active"].as_bool(), i["iss"].as_str()), (Some(true), Some(issuer)), "{i}");

    // A different issuer given explicitly is an error naming both.
    let out = cli(Some("http://127.0.0.1:8080"), &["token", "mint", "--client", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("http://127.0.0.1:8080") && err.contains(issuer), "{err}");
    assert!(out.stdout.is_empty());
    // The same one (trailing slash and all) is fine.
    let out = cli(Some("http://localhost:8099/"), &["token", "mint", "--client", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Changing the issuer on purpose: serve with a new one replaces the record, and says so.
    s.kill9();
    let log = s.dir.path().join("second.log");
    let mut serve = std::process::Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{}", s.port), "--issuer", "http://localhost:8100"])
        .env("TESSERA_DATA_DIR", s.data_dir())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !http().get(s.url("/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
        assert!(std::time::Instant::now() < deadline, "{}", std::fs::read_to_string(&log).unwrap_or_default());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let out = cli(None, &["token", "mint", "--client", &id]);
    let tok = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let i = introspect(&s, &id, &secret, &tok).await;
    assert_eq!((i["active"].as_bool(), i["iss"].as_str()), (Some(true), Some("http://localhost:8100")), "{i}");
    serve.kill().unwrap();
    serve.wait().unwrap();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("the issuer changed") && logs.contains("http://localhost:8099"), "{logs}");
}
