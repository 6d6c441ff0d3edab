//! Finding the inputs of `check`: takes what the command line names (files, directories,
//! glob patterns) and yields the capture files to check, sorted and without duplicates.
//! Directories are searched recursively for capture names (`.pcap`, `.pcapng`, `.cap`,
//! optionally `.gz`); a file named outright is kept whatever its name, and one that does not
//! exist is kept too, for the analysis to report as unreadable with the others still checked.

use std::io;
use std::path::{Path, PathBuf};

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

fn walk(dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_capture_name)
        {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    Ok(())
}
