//! wsclose command line: parse arguments, run the library, print fatal errors once, choose
//! the exit code: 0 done, 1 `check` found the policy broken, 2 an input (or the policy, or
//! an `explain` query) could not be read.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

mod cli;

use cli::{CheckArgs, Cli, Color, Command, ExplainArgs, ExplainFormat};
use wsclose::filter::Filter;
use wsclose::jobs::{analyze_files, Run};
use wsclose::progress::{Progress, Ticker};
use wsclose::render::text::{echo, message};
use wsclose::render::{Output, View};
use wsclose::tls::keylog::KeyLog;
use wsclose::Options;

/// The allocator: see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h, version 2; the Rust bindings do not
/// name it): milliseconds before freed memory goes back to the system.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// The purge delay `main` sets, in place of mimalloc's 10 ms: with 10, 2M unanswered SYNs
/// (the flow table full of connection attempts) peaked at 63-65 MiB, with 3 at 58-60 MiB as
/// with glibc; with 0 (at once) a flood of refused SYNs spent ten times the system time
/// returning pages.
const PURGE_DELAY_MS: std::ffi::c_long = 3;

fn main() -> ExitCode {
    // SAFETY: a store into mimalloc's option table, made before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match cli.command {
        Command::Explain(args) => explain(&args),
        Command::Check(args) => check(&args),
        Command::Analyze(args) => analyze(&args),
    }
}

fn explain(args: &ExplainArgs) -> ExitCode {
    use wsclose::explain::{
        all_cards, card, differences, parse_queries, render_list, render_text, ExplainDoc,
    };
    let lang = args.lang.into();
    let cards = if args.list {
        all_cards(lang)
    } else {
        match parse_queries(&args.queries) {
            Ok(queries) => queries.into_iter().map(|q| card(q, lang)).collect(),
            Err(e) => {
                eprintln!("wsclose: explain: {}", message(&e.to_string()));
                return ExitCode::from(2);
            }
        }
    };
    let text = match args.format {
        ExplainFormat::Json => {
            let doc = ExplainDoc {
                tool: "wsclose",
                version: env!("CARGO_PKG_VERSION"),
                lang,
                differences: if args.list {
                    Vec::new()
                } else {
                    differences(&cards, lang)
                },
                entries: &cards,
            };
            match serde_json::to_string_pretty(&doc) {
                Ok(s) => s + "\n",
                Err(e) => {
                    eprintln!("wsclose: explain: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        ExplainFormat::Text if args.list => render_list(&cards, lang),
        ExplainFormat::Text => render_text(&cards, lang, usize::from(args.width)),
    };
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => finish_io(e),
    }
}

/// `wsclose check`: exit 0 when the policy holds, 1 when it is broken, 2 when the policy or
/// an input cannot be read.
fn check(args: &CheckArgs) -> ExitCode {
    use wsclose::check::{self, Verdict};
    let policy = match check::load_policy(args.policy.as_deref()) {
        Ok(p) => p,
        Err(e) => return fatal(&e),
    };
    let files = match check::collect_inputs(&args.inputs) {
        Ok(f) => f,
        Err(e) => return fatal(&e),
    };
    let mut opts = Options::default();
    opts.conn.ws_ports = args.ws_ports.clone();
    resources(&args.resources, &mut opts);
    match keylogs(&args.keylogs) {
        Ok(keylog) => opts.conn.keylog = keylog,
        Err(e) => return fatal(&e),
    }
    let run = check::run_jobs(&files, &policy, &opts, jobs(args.jobs), |r| {
        if let Some(e) = &r.error {
            eprintln!("wsclose: {}", message(e));
        }
    });
    let fail_on = args.fail_on.into();
    let text = match check::render::render(args.format.into(), &run, &policy, fail_on) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("wsclose: check: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        return finish_io(e);
    }
    match run.verdict(fail_on) {
        Verdict::InputError => ExitCode::from(2),
        Verdict::Failed => ExitCode::from(1),
        Verdict::Passed => ExitCode::SUCCESS,
    }
}

/// The resource options, the same for `analyze` and `check`, into `opts`.
fn resources(r: &cli::Resources, opts: &mut Options) {
    opts.conn.max_pending = usize::try_from(r.max_buffer).unwrap_or(usize::MAX);
    opts.max_flows = usize::try_from(r.max_flows).unwrap_or(usize::MAX);
    opts.max_total_pending = usize::try_from(r.max_buffer_total).unwrap_or(usize::MAX);
    opts.pipelined = r.threads > 1;
}

/// Files analysed at once: as asked, else one per core.
fn jobs(asked: Option<u16>) -> usize {
    match asked {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, usize::from),
    }
}

/// The key logs given, read into one; their malformed lines are counted in one warning
/// each on standard error.
fn keylogs(paths: &[std::path::PathBuf]) -> Result<Option<Arc<KeyLog>>, wsclose::error::Error> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut keylog = KeyLog::new();
    for path in paths {
        let parsed = keylog.read_file(path)?;
        if parsed.malformed > 0 {
            eprintln!(
                "wsclose: {}: warning: {} malformed line(s) skipped ({} read)",
                echo(&path.to_string_lossy()),
                parsed.malformed,
                parsed.valid
            );
        }
    }
    Ok(Some(Arc::new(keylog)))
}

/// A command line clap refused (or `--help`, `--version`): as clap prints it, unless it
/// repeats an argument that is very long or holds control characters; then each line is
/// escaped and shortened (`render::text::message`). Exit 2 for an error.
fn usage_error(e: clap::Error) -> ExitCode {
    let text = e.render().to_string();
    let clean = text.lines().all(|l| message(l) == l);
    if !e.use_stderr() || clean {
        e.exit()
    }
    let mut err = io::stderr().lock();
    for line in text.lines() {
        let _ = writeln!(err, "{}", message(line));
    }
    ExitCode::from(2)
}

/// A fatal error: one line on standard error (escaped, and shortened when it repeats a
/// very long argument), exit 2.
fn fatal(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("wsclose: {}", message(&e.to_string()));
    ExitCode::from(2)
}

/// A write to standard output failed: a closed pipe ends quietly, anything else is fatal.
fn finish_io(e: io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("wsclose: writing the report: {e}");
    ExitCode::from(2)
}

/// `wsclose analyze`: reports every file, in parallel when there are several (`--jobs`),
/// in the order given; exit 2 when one could not be read.
fn analyze(args: &cli::AnalyzeArgs) -> ExitCode {
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        // A terminal that takes colour, unless NO_COLOR or CLICOLOR say otherwise.
        Color::Auto => matches!(
            anstream::AutoStream::choice(&io::stdout()),
            anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi
        ),
    };
    let mut opts = Options::default();
    opts.conn.ws_ports = args.ws_ports.clone();
    opts.conn.payloads = args.payloads;
    resources(&args.resources, &mut opts);
    match keylogs(&args.keylogs) {
        Ok(keylog) => opts.conn.keylog = keylog,
        Err(e) => return fatal(&e),
    }
    let files = match wsclose::check::expand_inputs(&args.files) {
        Ok(f) => f,
        Err(e) => return fatal(&e),
    };
    let jobs = jobs(args.jobs);
    let filter = Filter::default()
        .with_servers(&args.server)
        .and_then(|f| f.with_clients(&args.client))
        .and_then(|f| f.with_codes(&args.code))
        .and_then(|f| f.with_outcomes(&args.outcome))
        .and_then(|f| f.with_times(args.since.as_deref(), args.until.as_deref()))
        .map(|f| f.with_conn(args.conn));
    let filter = match filter {
        Ok(f) => f,
        Err(e) => return fatal(&e),
    };
    let view = View {
        group_by: args.group_by.into(),
        all: args.all,
        files: files.len(),
        filter,
    };
    let ticker = (!args.quiet && io::stderr().is_terminal()).then(|| {
        let progress = Arc::new(Progress::default());
        opts.progress = Some(progress.clone());
        Ticker::start(progress, total_bytes(&files), files.len() as u64)
    });
    let stdout = io::stdout();
    let mut lock = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut out = Output::new(args.format.into(), color, view, &mut lock);
    out.set_lang(args.lang.into());
    if let Err(e) = out.begin() {
        return finish_io(e);
    }
    let mut failed = false;
    let run = Run {
        files: &files,
        opts: &opts,
        jobs,
        only_problems: args.only_problems,
    };
    // Messages on standard error first clear the progress line, if it is drawn.
    let clear = if ticker.is_some() { "\r\x1b[K" } else { "" };
    let analyzed = analyze_files(
        &run,
        &mut out,
        &mut |report, err| {
            if args.verbose {
                for w in &report.warnings {
                    eprintln!(
                        "{clear}wsclose: {}: warning: {}",
                        echo(&report.path),
                        message(&w.message)
                    );
                }
            }
            if let Some(e) = err {
                failed = true;
                eprintln!("{clear}wsclose: {}", message(&e.to_string()));
            }
        },
        &|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                // The reader went away (`| head`): stop now rather than analyze the rest
                // for nobody.
                std::process::exit(0);
            }
        },
    );
    if let Err(e) = analyzed {
        return finish_io(e);
    }
    if let Err(e) = out.end() {
        return finish_io(e);
    }
    drop(out);
    if let Err(e) = lock.flush() {
        return finish_io(e);
    }
    drop(ticker);
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// The bytes of the captures together, when known before reading them: every one a
/// regular file, not compressed.
fn total_bytes(files: &[String]) -> Option<u64> {
    let mut total = 0;
    for f in files {
        let meta = std::fs::metadata(f).ok().filter(|m| m.is_file())?;
        if f == "-" || f.to_ascii_lowercase().ends_with(".gz") {
            return None;
        }
        total += meta.len();
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::MI_OPTION_PURGE_DELAY;

    #[test]
    fn the_purge_delay_option_is_the_one_main_sets() {
        // Tests do not run `main`: the option has mimalloc's default, 10 ms for the purge
        // delay (its neighbours default to 1 and 0).
        // SAFETY: reads an option's value.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 10);
    }
}
