//! Daemons from Debian's packages that the tests run as private processes.

use std::path::{Path, PathBuf};

/// A daemon's files from Debian's packages: unpacked by scripts/test.sh into
/// `.cache/<name>`, else installed. The unpacked ones come first: Debian's rsyslog and
/// syslog-ng conflict (each is "the" system logger), so both are run from there and the
/// machine's own logger is left alone.
pub struct Packages {
    root: PathBuf,
    /// The directory holding the daemon's modules.
    pub modules: PathBuf,
    pub unpacked: bool,
}

impl Packages {
    /// A tree with `binary`, `module` (a file in `<lib>/<any directory>/...`) and `files`,
    /// each relative to the tree's root.
    pub fn find(name: &str, binary: &str, lib: &str, module: &str, files: &[&str]) -> Self {
        let cache = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.cache")
            .join(name);
        for (root, unpacked) in [(cache, true), (PathBuf::from("/"), false)] {
            let modules = std::fs::read_dir(root.join(lib))
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.path().join(module))
                .find(|path| path.exists())
                .and_then(|path| path.parent().map(Path::to_owned));
            let complete =
                root.join(binary).exists() && files.iter().all(|file| root.join(file).exists());
            if let (Some(modules), true) = (modules, complete) {
                return Self {
                    root,
                    modules,
                    unpacked,
                };
            }
        }
        panic!(
            "{name} is missing: run scripts/test.sh, which unpacks Debian's packages into \
             .cache/{name}"
        )
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}
