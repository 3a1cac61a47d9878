//! The explorer's built files (`ui/dist`) are embedded by `include_dir!`, which stable Rust
//! cannot track: a new build of the page rebuilds this crate through this script.

fn main() {
    println!("cargo:rerun-if-changed=../../ui/dist");
}
