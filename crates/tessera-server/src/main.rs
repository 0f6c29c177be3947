//! The `tessera` command. Everything lives in the library; see `lib.rs`.

fn main() -> std::process::ExitCode {
    tessera_server::cli::main()
}
