//! The `portal` binary: parses the command line and hands over to [`server::cli`].

use std::process::ExitCode;

// mimalloc instead of glibc's malloc: under load the portal spent about a tenth of its time in
// malloc and free, with threads contending for arenas (issue 21; `portal bench http`).
// The `system-alloc` feature leaves it out, so heaptrack can count the heap of a download
// (scripts/heap_download.py).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    server::cli::main()
}
