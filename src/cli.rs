//! Command line definition (clap derive), private to the binary. Validation only, no I/O.
//! The value enums here are the command line's own; each maps to its library type, so that
//! the library exports no clap types.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Why did this WebSocket close? Close-frame forensics for pcap and pcapng captures.
#[derive(Debug, Parser)]
#[command(name = "wsclose", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report every WebSocket close in the captures, explained.
    Analyze(AnalyzeArgs),
    /// Explain close codes, TLS alerts and client error messages: one, or several side by
    /// side.
    Explain(ExplainArgs),
    /// Check captures against a policy, for CI: exit 0 when it holds, 1 when it is broken,
    /// 2 when an input cannot be read.
    Check(CheckArgs),
}

/// Output of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// One line per violation, with the fix.
    Human,
    Json,
    /// JUnit XML, one test case per capture and rule.
    Junit,
    /// GitHub Actions workflow annotations.
    Github,
}

impl From<CheckFormat> for wsclose::check::render::Format {
    fn from(f: CheckFormat) -> Self {
        use wsclose::check::render::Format;
        match f {
            CheckFormat::Human => Format::Human,
            CheckFormat::Json => Format::Json,
            CheckFormat::Junit => Format::Junit,
            CheckFormat::Github => Format::Github,
        }
    }
}

/// Which violations fail the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

impl From<FailOn> for wsclose::check::FailOn {
    fn from(f: FailOn) -> Self {
        match f {
            FailOn::Error => wsclose::check::FailOn::Error,
            FailOn::Warning => wsclose::check::FailOn::Warning,
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Capture files, directories (searched recursively) or glob patterns.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Policy file (TOML). Default: ./wsclose.toml when it exists, else the built-in policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<std::path::PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,

    /// Fail (exit 1) on errors only, or on warnings too.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// As for `analyze`.
    #[arg(long = "ws-port", value_name = "PORT")]
    pub ws_ports: Vec<u16>,

    /// As for `analyze`.
    #[arg(long = "keylog", value_name = "FILE")]
    pub keylogs: Vec<std::path::PathBuf>,

    /// Captures checked at once, on as many cores (default: the number of cores). The
    /// verdict and the output are the same, in the same order, whatever the number.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    #[command(flatten)]
    pub resources: Resources,
}

/// How much the analysis may hold and use, the same for `analyze` and `check`.
#[derive(Debug, Args)]
pub struct Resources {
    /// Most TCP connections tracked at once. Beyond it, flows that have carried no payload
    /// go first, then connections that are not WebSocket, then the least recently active;
    /// a connection evicted while still being read is reported with a FlowEvicted finding
    /// (which fails `check`).
    #[arg(long, default_value_t = wsclose::DEFAULT_MAX_FLOWS as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_flows: u64,

    /// Most out-of-order bytes buffered per direction of a connection before a hole is
    /// given up on.
    #[arg(long, default_value_t = wsclose::DEFAULT_MAX_PENDING as u64, value_name = "BYTES")]
    pub max_buffer: u64,

    /// Most out-of-order bytes buffered across all connections together; past it, the
    /// connection that wants more gives up on its holes.
    #[arg(long, default_value_t = wsclose::MAX_TOTAL_PENDING as u64, value_name = "BYTES")]
    pub max_buffer_total: u64,

    /// Threads: 2 analyzes on a second thread while the first reads and decodes the capture
    /// and writes the reports; 1 does everything on one. The report is the same.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub threads: u8,
}

/// Output of `explain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Close codes (1008), TLS alerts (tls:45), their names (certificate_expired), or the
    /// error message a client raised, quoted: "PKIX path validation failed",
    /// net::ERR_CERT_DATE_INVALID, a whole log line. Says what it means, what to look for in
    /// a capture, and the fix.
    #[arg(value_name = "QUERY", required_unless_present = "list")]
    pub queries: Vec<String>,

    /// Print the whole catalog, client error messages included.
    #[arg(long, conflicts_with = "queries")]
    pub list: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,

    /// Language of the explanations.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,

    /// Width of the text output in columns.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(40..))]
    pub width: u16,
}

/// Language of `explain` and of the HTML page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    En,
    Ar,
}

impl From<Lang> for wsclose::explain::Lang {
    fn from(l: Lang) -> Self {
        match l {
            Lang::En => wsclose::explain::Lang::En,
            Lang::Ar => wsclose::explain::Lang::Ar,
        }
    }
}

/// Output of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human report.
    Text,
    /// One JSON document.
    Json,
    /// One JSON record per close event.
    Jsonl,
    /// One self-contained HTML page (summary, timeline, table, catalog), built from the
    /// JSON document.
    Html,
}

/// What the summary groups connections by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    /// The cause (a close's diagnosis, a drop's likely cause, a TLS failure).
    Cause,
    /// The server (Host, SNI and port, or address).
    Server,
    /// The client address.
    Client,
    /// The first Close's code.
    Code,
}

impl From<GroupBy> for wsclose::render::GroupBy {
    fn from(g: GroupBy) -> Self {
        match g {
            GroupBy::Cause => wsclose::render::GroupBy::Cause,
            GroupBy::Server => wsclose::render::GroupBy::Server,
            GroupBy::Client => wsclose::render::GroupBy::Client,
            GroupBy::Code => wsclose::render::GroupBy::Code,
        }
    }
}

impl From<Format> for wsclose::render::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => wsclose::render::Format::Text,
            Format::Json => wsclose::render::Format::Json,
            Format::Jsonl => wsclose::render::Format::Jsonl,
            Format::Html => wsclose::render::Format::Html,
        }
    }
}

/// When to colour the human report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When standard output is a terminal (and NO_COLOR is not set).
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng, optionally .gz), directories (searched recursively
    /// for .pcap, .pcapng and .cap files, optionally .gz, reported in path order) or glob
    /// patterns; `-` reads standard input. Several are reported in the order given, after
    /// one summary of them all.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// Files analysed at once, on as many cores (default: the number of cores). The report
    /// is the same, in the order given, whatever the number. On a 2-core machine, 4 copies
    /// of a 323 MB capture took 3.7 s with 2 jobs, 6.3 s with 1 (0.58x).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// No progress line on standard error (it appears only when standard error is a
    /// terminal, on runs that take more than a second).
    #[arg(short, long)]
    pub quiet: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// Language of the HTML page: its headings, and which catalog entries come first
    /// (`ar`: right to left, Arabic first).
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,

    /// Treat TCP traffic on this port as WebSocket even when no handshake is in the capture
    /// (repeatable).
    #[arg(long = "ws-port", value_name = "PORT")]
    pub ws_ports: Vec<u16>,

    /// TLS key log (NSS SSLKEYLOGFILE format) to decrypt wss:// with (repeatable). Secrets
    /// embedded in a pcapng (Decryption Secrets Blocks) are used without it.
    #[arg(long = "keylog", value_name = "FILE")]
    pub keylogs: Vec<std::path::PathBuf>,

    #[command(flatten)]
    pub resources: Resources,

    /// List only connections worth a look: not closed cleanly, or with a warning or error
    /// finding (the summary still counts every connection).
    #[arg(long)]
    pub only_problems: bool,

    /// List every connection's details in the text report (by default, a file with more
    /// than 300 connections lists only the problem ones after its summary).
    #[arg(long)]
    pub all: bool,

    /// What the summary's main table groups connections by.
    #[arg(long, value_enum, default_value_t = GroupBy::Cause)]
    pub group_by: GroupBy,

    /// Only connections to this server: a name (Host, SNI) or address, with or without
    /// :PORT; several (repeated or comma-separated) are alternatives.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub server: Vec<String>,

    /// Only connections from this client address (IP or IP:PORT).
    #[arg(long, value_name = "IP[:PORT]")]
    pub client: Vec<String>,

    /// Only connections with a Close frame carrying one of these codes: codes and ranges,
    /// comma-separated (1008,4000-4999).
    #[arg(long, value_name = "LIST")]
    pub code: Vec<String>,

    /// Only connections with one of these outcomes, comma-separated (clean, no_status,
    /// one_sided, abnormal, open, refused, tls_failed, failed, encrypted).
    #[arg(long, value_name = "LIST")]
    pub outcome: Vec<String>,

    /// Only connections that closed at or after this capture time: RFC 3339
    /// (2024-01-12T17:15:32Z) or seconds from the capture's first packet.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only connections that closed at or before this capture time (as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only the connection with this number (in each file), in full.
    #[arg(long, value_name = "ID")]
    pub conn: Option<u64>,

    /// Show the first bytes of the messages before each Close (at most 64, escaped), in
    /// every format. Off by default: message content may hold secrets.
    #[arg(long)]
    pub payloads: bool,

    /// Print each file's warnings and errors to standard error as well.
    #[arg(short, long)]
    pub verbose: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
