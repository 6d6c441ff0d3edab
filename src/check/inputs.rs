//! Finding the inputs of `check` and `analyze`: takes what the command line names (files,
//! directories, glob patterns) and yields the capture files to check, sorted and without
//! duplicates. Directories are searched recursively for capture names (`.pcap`, `.pcapng`,
//! `.cap`, optionally `.gz`); a file named outright is kept whatever its name, and one that
//! does not exist is kept too, for the analysis to report as unreadable with the others
//! still checked.
//!
//! A search always ends, and reads each directory once: symbolic links are followed, but a
//! directory is entered only the first time it is reached (by device and inode), so a link
//! back up the tree, a link to a sibling and two links per level to the next one all cost
//! one visit per directory; a file reached by several paths (links, hard links) is listed
//! once, under the first path the search meets (a directory's own entries, in name order,
//! before those of its subdirectories); and the search goes at most `MAX_DEPTH`
//! directories deep.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Deepest directory a search enters, counted from the one named (which is depth 0).
/// Real capture trees are a few levels deep; the cap only stops a pathological tree (or a
/// file system whose inode numbers cannot be trusted) from running on.
pub const MAX_DEPTH: usize = 64;

/// An input that names nothing to check.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A directory could not be searched.
    #[error("{path}: {source}")]
    Walk { path: String, source: io::Error },
    /// A directory is nested deeper than `MAX_DEPTH` below the one named.
    #[error("{path}: more than {MAX_DEPTH} directories deep below {root}; name a deeper directory directly")]
    TooDeep { root: String, path: String },
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

/// What a search has already met: directories entered and files listed, by identity.
#[derive(Debug, Default)]
struct Seen {
    dirs: HashSet<FileId>,
    files: HashSet<FileId>,
}

/// A file's identity: device and inode where the platform has them, else its canonical path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileId {
    #[cfg_attr(not(unix), allow(dead_code))]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

impl FileId {
    #[cfg(unix)]
    fn of(_path: &Path, meta: &fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId::Inode(meta.dev(), meta.ino())
    }

    #[cfg(not(unix))]
    fn of(path: &Path, _meta: &fs::Metadata) -> FileId {
        FileId::Path(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }
}

/// The capture files named by `inputs`: files as given, directories searched recursively
/// for captures, glob patterns expanded. Sorted, without duplicates.
pub fn collect_inputs(inputs: &[String]) -> Result<Vec<String>, InputError> {
    let mut out: Vec<String> = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        if path.is_dir() {
            let before = out.len();
            walk(path, &mut out)?;
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
            walk(&p, out)?;
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

/// Adds the captures under `root`, depth first in file name order. Symbolic links are
/// followed, to directories too, but a directory already entered is not entered again, and
/// a file already listed is not listed again: a loop, or many links to one place, costs
/// one visit. Only regular files
/// are listed (not a FIFO or a device with a capture name), and a link that cannot be
/// followed (dangling), for the analysis to report as unreadable. A directory that cannot
/// be read, or one more than `MAX_DEPTH` levels down, is an error.
fn walk(root: &Path, out: &mut Vec<String>) -> Result<(), InputError> {
    let mut seen = Seen::default();
    let walk_err = |path: &Path, source: io::Error| InputError::Walk {
        path: path.display().to_string(),
        source,
    };
    let meta = fs::metadata(root).map_err(|e| walk_err(root, e))?;
    seen.dirs.insert(FileId::of(root, &meta));
    // Directories still to read, with their depth; the last pushed is read first.
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let mut entries = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| walk_err(&dir, e))? {
            let entry = entry.map_err(|e| walk_err(&dir, e))?;
            entries.push(entry.path());
        }
        entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        let mut subdirs = Vec::new();
        for path in entries {
            let capture_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_capture_name);
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                // A dangling link, or one that cannot be followed: kept when it says
                // capture, for the analysis to report.
                Err(_) => {
                    if capture_name {
                        out.push(path.to_string_lossy().into_owned());
                    }
                    continue;
                }
            };
            let id = FileId::of(&path, &meta);
            if meta.is_dir() {
                if !seen.dirs.insert(id) {
                    continue;
                }
                if depth >= MAX_DEPTH {
                    return Err(InputError::TooDeep {
                        root: root.display().to_string(),
                        path: path.display().to_string(),
                    });
                }
                subdirs.push(path);
            } else if capture_name && meta.is_file() && seen.files.insert(id) {
                out.push(path.to_string_lossy().into_owned());
            }
        }
        // Pushed in reverse so that the first in name order is read next.
        stack.extend(subdirs.into_iter().rev().map(|d| (d, depth + 1)));
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

    /// `n` directories `root/d/d/...`, each with `links` links to its own `d`, and a capture
    /// at the bottom; returns the capture's path.
    #[cfg(unix)]
    fn ladder(root: &Path, n: usize, links: usize) -> std::path::PathBuf {
        use std::os::unix::fs::symlink;
        let mut dir = root.to_path_buf();
        for _ in 0..n {
            fs::create_dir(dir.join("d")).unwrap();
            for l in 0..links {
                symlink("d", dir.join(format!("l{l}"))).unwrap();
            }
            dir = dir.join("d");
        }
        let capture = dir.join("x.pcap");
        fs::write(&capture, b"").unwrap();
        capture
    }

    #[cfg(unix)]
    #[test]
    fn two_links_per_level_end_at_once() {
        // 3^30 paths lead to the capture: before, the search never ended.
        let tmp = tempfile::tempdir().unwrap();
        let capture = ladder(tmp.path(), 30, 2);
        let started = std::time::Instant::now();
        assert_eq!(collect_inputs(&[s(tmp.path())]).unwrap(), [s(&capture)]);
        assert_eq!(expand_inputs(&[s(tmp.path())]).unwrap(), [s(&capture)]);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[cfg(unix)]
    #[test]
    fn links_to_ancestors_and_siblings_are_entered_once() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // Four siblings, each linking to the three others and to the root: 16 paths
        // led to a/x.pcap before (it was analysed 16 times).
        let names = ["a", "b", "c", "e"];
        for n in names {
            fs::create_dir(root.join(n)).unwrap();
        }
        for n in names {
            for m in names.iter().filter(|m| **m != n) {
                symlink(format!("../{m}"), root.join(n).join(format!("to-{m}"))).unwrap();
            }
            symlink("..", root.join(n).join("up")).unwrap();
        }
        fs::write(root.join("a/x.pcap"), b"").unwrap();
        // A link to the file itself lists it once too, and a dangling link is kept.
        symlink("a/x.pcap", root.join("same.pcap")).unwrap();
        symlink("nowhere.pcap", root.join("b/dangling.pcap")).unwrap();
        assert_eq!(
            collect_inputs(&[s(root)]).unwrap(),
            [s(&root.join("b/dangling.pcap")), s(&root.join("same.pcap"))]
        );
        // From a, the links lead everywhere: each place once, under the first path met.
        assert_eq!(
            collect_inputs(&[s(&root.join("a"))]).unwrap(),
            [
                s(&root.join("a/to-b/dangling.pcap")),
                s(&root.join("a/x.pcap"))
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn depth_is_capped_and_special_files_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        ladder(tmp.path(), MAX_DEPTH + 1, 0);
        let e = collect_inputs(&[s(tmp.path())]).unwrap_err();
        assert!(matches!(e, InputError::TooDeep { .. }), "{e}");
        assert!(
            e.to_string().contains("more than 64 directories deep"),
            "{e}"
        );

        let tmp = tempfile::tempdir().unwrap();
        let capture = ladder(tmp.path(), MAX_DEPTH, 0);
        assert_eq!(collect_inputs(&[s(tmp.path())]).unwrap(), [s(&capture)]);

        // A FIFO with a capture name would block the analysis: not listed.
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("live.pcap");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|st| st.success()) {
            fs::write(tmp.path().join("real.pcap"), b"").unwrap();
            assert_eq!(
                collect_inputs(&[s(tmp.path())]).unwrap(),
                [s(&tmp.path().join("real.pcap"))]
            );
        }
    }
}
