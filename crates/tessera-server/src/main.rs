//! The `tessera` command. Everything lives in the library; see `lib.rs`.

// mimalloc: measurably faster than glibc malloc for many small, short-lived
// allocations per request (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tessera_server::cli::main()
}
