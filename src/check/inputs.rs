//! Finding the inputs of `check`: takes what the command line names (files, directories,
//! glob patterns) and yields the capture files to check, sorted and without duplicates.
//! Directories are searched recursively for capture names (`.pcap`, `.pcapng`, `.cap`,
//! optionally `.gz`); a file named outright is kept whatever its name, and one that does not
//! exist is kept too, for the analysis to report as unreadable with the others still checked.

use std::io;
use std::path::Path;

use walkdir::WalkDir;

/// An input that names nothing to check.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A directory could not be searched.
    #[error("{path}: {source}")]
    Walk { path: String, source: io::Error },
    /// A directory holds no capture file.
    #[error("{path}: no capture files (.pcap, .pcapng, .cap, optionally .gz) in this directory")]
    NoCaptures { path: String },
    /// A glob pattern is malformed.
    #[error("{pattern}: bad pattern: {source}")]
    BadPattern {
        pattern: String,
        source: glob::PatternError,
    },
    /// A glob pattern matches nothing.
    #[error("{pattern}: no file matches this pattern")]
    NoMatch { pattern: String },
}

/// The capture files named by `inputs`: files as given, directories searched recursively
/// for captures, glob patterns expanded. Sorted, without duplicates.
pub fn collect_inputs(inputs: &[String]) -> Result<Vec<String>, InputError> {
    let mut out: Vec<String> = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        if path.is_dir() {
            let before = out.len();
            walk(path, &mut out).map_err(|source| InputError::Walk {
                path: input.clone(),
                source,
            })?;
            if out.len() == before {
                return Err(InputError::NoCaptures {
                    path: input.clone(),
                });
            }
        } else if path.exists() || input == "-" {
            out.push(input.clone());
        } else if input.contains(['*', '?', '[']) {
            expand(input, &mut out)?;
        } else {
            // Left for the analysis to report as unreadable, with the others still checked.
            out.push(input.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The capture files named by `inputs`, in the order given: a file as given, a
/// directory's captures (searched recursively, as `collect_inputs` does) sorted by path,
/// a glob pattern's matches sorted. Nothing is removed: a file named twice is there twice.
/// For `analyze`, whose report follows the order of its arguments.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<String>, InputError> {
    let mut out = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        if input == "-" || (!path.is_dir() && (path.exists() || !input.contains(['*', '?', '[']))) {
            out.push(input.clone());
            continue;
        }
        let mut found = collect_inputs(std::slice::from_ref(input))?;
        out.append(&mut found);
    }
    Ok(out)
}

/// Adds the files `pattern` matches, and the captures in the directories it matches.
fn expand(pattern: &str, out: &mut Vec<String>) -> Result<(), InputError> {
    let paths = glob::glob(pattern).map_err(|source| InputError::BadPattern {
        pattern: pattern.to_string(),
        source,
    })?;
    let before = out.len();
    for p in paths.flatten() {
        if p.is_dir() {
            walk(&p, out).map_err(|source| InputError::Walk {
                path: p.display().to_string(),
                source,
            })?;
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    if out.len() == before {
        return Err(InputError::NoMatch {
            pattern: pattern.to_string(),
        });
    }
    Ok(())
}

/// A file name that says capture: `.pcap`, `.pcapng` or `.cap`, optionally gzipped.
fn is_capture_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let n = n.strip_suffix(".gz").unwrap_or(&n);
    n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".cap")
}

/// Adds the captures under `dir`, in file name order. Symbolic links are followed, to
/// directories too, except a link back to a directory being searched: that would loop, so
/// it is skipped. An entry that cannot be followed (a dangling link) counts as a file.
fn walk(dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    let entries = WalkDir::new(dir).follow_links(true).sort_by_file_name();
    for entry in entries {
        let path = match entry {
            Ok(e) if e.file_type().is_dir() => continue,
            Ok(e) => e.into_path(),
            Err(e) if e.loop_ancestor().is_some() => continue,
            Err(e) => match e.path() {
                // A directory that cannot be read.
                Some(p) if p.is_dir() => {
                    return Err(e
                        .into_io_error()
                        .unwrap_or_else(|| io::Error::other("file system loop")))
                }
                Some(p) => p.to_path_buf(),
                // Reading an entry of a directory failed: nothing to name.
                None => continue,
            },
        };
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_capture_name)
        {
            out.push(path.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn s(p: &Path) -> String {
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn capture_names() {
        for n in ["a.pcap", "a.PCAPNG", "a.cap", "a.pcap.gz", "a.Pcapng.GZ"] {
            assert!(is_capture_name(n), "{n}");
        }
        for n in ["a.txt", "a.gz", "pcap", "a.pcap.zip", "a.pcapng~"] {
            assert!(!is_capture_name(n), "{n}");
        }
    }

    #[test]
    fn directories_files_and_patterns() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("b/deeper")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        for f in [
            "z.pcap",
            "a.pcapng",
            "b/deeper/c.cap.gz",
            "b/notes.txt",
            "empty/x.txt",
        ] {
            fs::write(root.join(f), b"").unwrap();
        }
        let dir = s(root);
        let found = collect_inputs(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(
            found,
            [
                s(&root.join("a.pcapng")),
                s(&root.join("b/deeper/c.cap.gz")),
                s(&root.join("z.pcap")),
            ]
        );
        // Named outright: kept whatever the name, once, sorted with the rest; a missing
        // file is kept for the analysis to report.
        let notes = s(&root.join("b/notes.txt"));
        let missing = s(&root.join("missing.pcap"));
        let found =
            collect_inputs(&[missing.clone(), notes.clone(), dir.clone(), "-".into()]).unwrap();
        assert_eq!(found.len(), 6);
        assert!(found.contains(&notes) && found.contains(&missing) && found.contains(&"-".into()));
        assert!(found.windows(2).all(|w| w[0] < w[1]));

        let pattern = s(&root.join("*.pcap*"));
        assert_eq!(
            collect_inputs(&[pattern]).unwrap(),
            [s(&root.join("a.pcapng")), s(&root.join("z.pcap"))]
        );
        // A pattern matching a directory searches it.
        let pattern = s(&root.join("b*"));
        assert_eq!(
            collect_inputs(&[pattern]).unwrap(),
            [s(&root.join("b/deeper/c.cap.gz"))]
        );

        let e = collect_inputs(&[s(&root.join("empty"))]).unwrap_err();
        assert!(matches!(e, InputError::NoCaptures { .. }));
        assert!(
            e.to_string().ends_with(
                "empty: no capture files (.pcap, .pcapng, .cap, optionally .gz) in this directory"
            ),
            "{e}"
        );
        let e = collect_inputs(&[s(&root.join("nothing-*.pcap"))]).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("nothing-*.pcap: no file matches this pattern"),
            "{e}"
        );
        let e = collect_inputs(&[s(&root.join("[*.pcap"))]).unwrap_err();
        assert!(e.to_string().contains("[*.pcap: bad pattern: "), "{e}");
    }

    #[test]
    fn expanded_in_the_order_given() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("d/a")).unwrap();
        for f in ["z.pcap", "d/b.pcap", "d/a/c.pcap", "d/a.pcap"] {
            fs::write(root.join(f), b"").unwrap();
        }
        let z = s(&root.join("z.pcap"));
        let found = expand_inputs(&[
            z.clone(),
            s(&root.join("d")),
            "-".into(),
            z.clone(),
            s(&root.join("missing.pcap")),
        ])
        .unwrap();
        assert_eq!(
            found,
            [
                z.clone(),
                s(&root.join("d/a.pcap")),
                s(&root.join("d/a/c.pcap")),
                s(&root.join("d/b.pcap")),
                "-".into(),
                z,
                s(&root.join("missing.pcap")),
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_but_loops_are_not() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let elsewhere = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("top.pcap"), b"").unwrap();
        fs::write(root.join("sub/inner.pcap"), b"").unwrap();
        fs::write(elsewhere.path().join("linked.pcap"), b"").unwrap();
        // Two loops (to the root and to the parent directory), a link to a directory
        // outside, and a dangling link with a capture name.
        symlink(root, root.join("sub/again")).unwrap();
        symlink("..", root.join("sub/up")).unwrap();
        symlink(elsewhere.path(), root.join("outside")).unwrap();
        symlink(root.join("gone"), root.join("gone.pcap")).unwrap();
        let found = collect_inputs(&[s(root)]).unwrap();
        assert_eq!(
            found,
            [
                s(&root.join("gone.pcap")),
                s(&root.join("outside/linked.pcap")),
                s(&root.join("sub/inner.pcap")),
                s(&root.join("top.pcap")),
            ]
        );
    }
}
