//! The `portal` binary: parses the command line and hands over to [`server::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    server::cli::main()
}
