//! Replays every committed corpus file of every fuzz target (`fuzz/corpus/`)
//! through its harness, so `cargo test` catches a regression the fuzzers once
//! found, or a broken invariant on a seed, without a fuzzer installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

#[test]
fn every_corpus_file_passes_its_harness() {
    let mut failures = Vec::new();
    for (target, harness) in tessera_fuzz::TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(files.len() >= 5, "{target}: only {} corpus files", files.len());
        for f in files {
            let data = std::fs::read(&f).expect("corpus file");
            if std::panic::catch_unwind(|| harness(&data)).is_err() {
                failures.push(format!("{target}/{}", f.file_name().unwrap_or_default().to_string_lossy()));
            }
        }
    }
    assert!(failures.is_empty(), "harness failed on: {failures:?}");
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    for (target, _) in tessera_fuzz::TARGETS {
        assert!(root.join(format!("{target}.rs")).is_file(), "fuzz/fuzz_targets/{target}.rs missing");
    }
}
