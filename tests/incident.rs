//! The incident summary and the filters, on the incident sample: 286 connections of real
//! clients and servers whose own view of each close is in samples/incident.truth.jsonl.
//! Each group of the summary is checked against what the peers reported, each filter
//! against the connections the truth file (or the full JSON report) says it must keep.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::{analyze_json, root, run, wsclose};

const SAMPLE: &str = "samples/incident.pcap";

/// The truth file: scenario group per client address.
fn truth() -> HashMap<String, (String, String)> {
    let text = std::fs::read_to_string(root().join("samples/incident.truth.jsonl")).expect("truth");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("truth line");
            (
                v["client"].as_str().expect("client").to_string(),
                (
                    v["group"].as_str().expect("group").to_string(),
                    v["server"].as_str().expect("server").to_string(),
                ),
            )
        })
        .collect()
}

fn json(args: &[&str]) -> Value {
    let mut all = vec!["analyze", SAMPLE, "--format", "json"];
    all.extend_from_slice(args);
    let out = wsclose(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn connections(doc: &Value) -> Vec<Value> {
    doc["files"][0]["connections"]
        .as_array()
        .expect("connections")
        .clone()
}

/// The groups of the scenario, as the summary must name them: (cause, by).
fn expected_cause(group: &str) -> (&'static str, Option<&'static str>) {
    match group {
        "clean" => ("close_1000", Some("client")),
        "server-1000" => ("close_1000", Some("server")),
        "deploy-1001" => ("restart", Some("server")),
        "rate-1008" => ("rate_limit", Some("server")),
        "keepalive-1011" => ("keepalive_timeout", Some("server")),
        // Killed processes and terminate() end with a FIN; the raw clients abort with a RST
        // right after the server's message.
        "drop-killed" | "drop-terminate" => ("dropped_without_close", Some("client")),
        "drop-rst" => ("reset_after_message", Some("client")),
        "tls-untrusted" => ("tls_certificate_untrusted", None),
        "illegal-1005" | "illegal-1006" => ("IllegalCloseCode", Some("client")),
        other => panic!("a scenario group this test does not know: {other}"),
    }
}

#[test]
fn causes_are_grouped_as_the_peers_saw_them() {
    let truth = truth();
    assert_eq!(truth.len(), 286);
    let mut want: BTreeMap<(String, Option<String>), u64> = BTreeMap::new();
    let mut servers: BTreeMap<(String, Option<String>), std::collections::BTreeSet<String>> =
        BTreeMap::new();
    for (group, server) in truth.values() {
        let (cause, by) = expected_cause(group);
        let key = (cause.to_string(), by.map(str::to_string));
        *want.entry(key.clone()).or_default() += 1;
        servers.entry(key).or_default().insert(server.clone());
    }
    let doc = json(&[]);
    let inc = &doc["files"][0]["incident"];
    assert_eq!(inc["connections"], 286);
    let mut got = BTreeMap::new();
    for g in inc["causes"].as_array().expect("causes") {
        let key = (
            g["cause"].as_str().expect("cause").to_string(),
            g["by"].as_str().map(str::to_string),
        );
        got.insert(key.clone(), g["count"].as_u64().expect("count"));
        // Every group names its servers' ports as the peers used them.
        let ports: std::collections::BTreeSet<String> = g["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .map(|s| {
                let name = s["name"].as_str().expect("name");
                name.rsplit(':').next().unwrap_or("").to_string()
            })
            .collect();
        let truth_ports: std::collections::BTreeSet<String> = servers[&key]
            .iter()
            .map(|s| s.rsplit(':').next().unwrap_or("").to_string())
            .collect();
        assert_eq!(ports, truth_ports, "{key:?}");
        // The example belongs to the group.
        let example = g["example"].as_u64().expect("example");
        let conn = connections(&doc)
            .into_iter()
            .find(|c| c["id"] == example)
            .expect("example connection");
        let group = &truth[conn["client"].as_str().expect("client")].0;
        let (cause, by) = expected_cause(group);
        assert_eq!(
            (cause, by),
            (key.0.as_str(), key.1.as_deref()),
            "example #{example}"
        );
    }
    assert_eq!(got, want);
    // Shares add up, largest first.
    let counts: Vec<u64> = inc["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    let deploy = inc["causes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["cause"] == "restart")
        .expect("the deploy");
    assert_eq!(deploy["class"], "clean");
}

#[test]
fn the_text_summary_opens_the_report_and_groups_on_request() {
    let (code, text, _) = run(&["analyze", SAMPLE, "--color", "never"]);
    assert_eq!(code, 0);
    let summary_at = text.find("Summary samples/incident.pcap: 286 connection(s)");
    let first_conn = text.find("Connection #");
    assert!(summary_at.is_some() && summary_at < first_conn, "{text}");
    let head = &text[..first_conn.unwrap()];
    assert!(head.lines().count() < 40, "the first screen: {head}");
    for line in [
        "40 connections: server closed with 1001/1012 together with many others (restart or deploy)",
        "30 connections: server closed with 1008 after a burst of messages (rate limit)",
        "18 connections: TLS handshake failed: certificate not trusted",
    ] {
        assert!(head.contains(line), "{line} in {head}");
    }
    // One bar row per class that had closes.
    for row in ["clean |", "abnormal |", "tls failure |", "illegal |"] {
        assert!(head.contains(row), "{row} in {head}");
    }

    // By server: one row per server with problems/connections from the truth file.
    let truth = truth();
    let mut per_port: BTreeMap<String, u64> = BTreeMap::new();
    for (_, server) in truth.values() {
        *per_port
            .entry(server.rsplit(':').next().unwrap().to_string())
            .or_default() += 1;
    }
    let (_, text, _) = run(&[
        "analyze",
        SAMPLE,
        "--color",
        "never",
        "--group-by",
        "server",
    ]);
    for (port, n) in &per_port {
        let row = text
            .lines()
            .find(|l| l.contains(&format!(":{port}")) && l.contains('/'))
            .unwrap_or_else(|| panic!("no row for port {port} in {text}"));
        assert!(row.contains(&format!("/{n:<7}")), "{row}: {n} connections");
    }
    let (_, text, _) = run(&["analyze", SAMPLE, "--color", "never", "--group-by", "code"]);
    assert!(text.contains("1008  Policy Violation"), "{text}");
}

/// The ids of the connections of the full report for which `keep` holds.
fn ids_where(keep: impl Fn(&Value) -> bool) -> Vec<u64> {
    let mut v: Vec<u64> = connections(&json(&[]))
        .iter()
        .filter(|c| keep(c))
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    v.sort_unstable();
    v
}

fn ids(doc: &Value) -> Vec<u64> {
    let mut v: Vec<u64> = connections(doc)
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    v.sort_unstable();
    v
}

/// When a connection counts on the timeline: its first Close, else the end of TCP, else
/// its last packet (as RFC 3339 text, which sorts as time does).
fn closed_at(c: &Value) -> String {
    c["closes"][0]["ts"]
        .as_str()
        .or(c["story"]["tcp_end"]["ts"].as_str())
        .or(c["end"].as_str())
        .expect("a time")
        .to_string()
}

#[test]
fn every_filter_keeps_what_it_names() {
    let truth = truth();
    let group_of = |c: &Value| truth[c["client"].as_str().unwrap()].0.clone();

    let doc = json(&["--outcome", "abnormal"]);
    assert_eq!(
        ids(&doc),
        ids_where(|c| c["story"]["outcome"] == "abnormal")
    );
    assert_eq!(ids(&doc).len(), 40);
    assert_eq!(doc["files"][0]["incident"]["connections"], 40);

    let deploy = ids_where(|c| group_of(c) == "deploy-1001");
    assert_eq!(deploy.len(), 40);
    let server = truth
        .values()
        .find(|(g, _)| g == "deploy-1001")
        .map(|(_, s)| s.clone())
        .unwrap();
    assert_eq!(ids(&json(&["--server", &server])), deploy);
    let ip = server.rsplit_once(':').unwrap().0;
    assert_eq!(ids(&json(&["--server", ip])), deploy);
    // The TLS server by its SNI.
    let tls = ids_where(|c| group_of(c) == "tls-untrusted");
    let port = truth
        .values()
        .find(|(g, _)| g == "tls-untrusted")
        .map(|(_, s)| s.rsplit(':').next().unwrap().to_string())
        .unwrap();
    assert_eq!(ids(&json(&["--server", &format!("localhost:{port}")])), tls);

    let client = truth
        .iter()
        .find(|(_, (g, _))| g == "rate-1008")
        .map(|(c, _)| c.clone())
        .unwrap();
    let client_ip = client.rsplit_once(':').unwrap().0.to_string();
    assert_eq!(
        ids(&json(&["--client", &client_ip])),
        ids_where(|c| c["client"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{client_ip}:")))
    );
    assert_eq!(ids(&json(&["--client", &client])).len(), 1);

    assert_eq!(
        ids(&json(&["--code", "1008"])),
        ids_where(|c| group_of(c) == "rate-1008")
    );
    assert_eq!(
        ids(&json(&["--code", "1005-1006,4000-4999"])),
        ids_where(|c| group_of(c).starts_with("illegal-"))
    );
    assert_eq!(
        ids(&json(&["--outcome", "clean", "--code", "1011"])),
        ids_where(|c| group_of(c) == "keepalive-1011")
    );

    // Times: the deploy's instant, as RFC 3339 and as seconds from the first packet.
    let all = connections(&json(&[]));
    let deploy_at: Vec<String> = all
        .iter()
        .filter(|c| group_of(c) == "deploy-1001")
        .map(closed_at)
        .collect();
    let (from, to) = (
        deploy_at.iter().min().unwrap().clone(),
        deploy_at.iter().max().unwrap().clone(),
    );
    let in_window = ids_where(|c| {
        let t = closed_at(c);
        t >= from && t <= to
    });
    assert!(in_window.len() >= 40);
    assert_eq!(ids(&json(&["--since", &from, "--until", &to])), in_window);
    let late = ids_where(|c| closed_at(c) >= from);
    assert_eq!(ids(&json(&["--since", &from])), late);
    assert_eq!(ids(&json(&["--until", "0"])), Vec::<u64>::new());
    assert_eq!(ids(&json(&["--since", "0"])).len(), 286);

    let doc = json(&["--conn", "6"]);
    assert_eq!(ids(&doc), vec![6]);
    let (_, text, _) = run(&["analyze", SAMPLE, "--conn", "6", "--color", "never"]);
    assert_eq!(text.matches("Connection #").count(), 1);
    assert!(
        text.contains("285 connection(s) left out by the options"),
        "{text}"
    );

    // JSONL follows the filter too.
    let out = wsclose(&["analyze", SAMPLE, "--format", "jsonl", "--code", "1008"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let closes = text
        .lines()
        .filter(|l| l.contains("\"type\":\"close_frame\""))
        .count();
    assert_eq!(closes, 60, "30 connections, a Close each way");
}

#[test]
fn bad_filter_values_are_one_line_and_exit_2() {
    for (args, says) in [
        (vec!["--code", "10o8"], "--code:"),
        (vec!["--outcome", "fine"], "--outcome:"),
        (vec!["--since", "yesterday"], "--since:"),
        (vec!["--client", "example.com"], "--client:"),
        (vec!["--server", "host:99999"], "--server:"),
    ] {
        let mut all = vec!["analyze", SAMPLE];
        all.extend(args.iter());
        let (code, out, err) = run(&all);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?}: nothing analysed");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn several_files_open_with_one_summary_of_them_all() {
    let (code, text, _) = run(&[
        "analyze",
        SAMPLE,
        "samples/evidence-1008-rate.pcap",
        "--color",
        "never",
    ]);
    assert_eq!(code, 0);
    assert!(
        text.starts_with("Summary 2 files: 287 connection(s)"),
        "{text}"
    );
    let first_file = text.find("== samples/incident.pcap").expect("file section");
    let second = text
        .find("== samples/evidence-1008-rate.pcap")
        .expect("file section");
    assert!(first_file < second);
    assert!(text[..first_file].contains("31 connections: server closed with 1008"));
    // Over several files, each example names its file.
    assert!(
        text[..first_file].contains("e.g. samples/incident.pcap #"),
        "{text}"
    );
    assert!(!text[..first_file].contains("; e.g. #"), "{text}");
    let doc = analyze_json_files(&[SAMPLE, "samples/evidence-1008-rate.pcap"]);
    assert_eq!(doc["incident"]["connections"], 287);
    assert_eq!(
        doc["incident"]["causes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["cause"] == "rate_limit")
            .unwrap()["count"],
        31
    );
    // The single-file document has the same shape.
    assert_eq!(analyze_json(SAMPLE)["incident"]["connections"], 286);
}

fn analyze_json_files(files: &[&str]) -> Value {
    let mut args = vec!["analyze", "--format", "json"];
    args.extend_from_slice(files);
    serde_json::from_slice(&wsclose(&args).stdout).expect("JSON")
}

/// A capture with more connections than the text report details: the summary says so and
/// only the problem connections follow, unless `--all` asks for every one.
#[test]
fn beyond_the_limit_only_problem_connections_are_detailed() {
    let cfg = wsclose_testgen::synth::SynthConfig {
        target_bytes: 800_000,
        messages: 1,
        concurrent: 4,
        seed: 7,
    };
    let mut bytes = Vec::new();
    let stats = wsclose_testgen::synth::write_capture(&mut bytes, &cfg).expect("synth");
    assert!(stats.connections > 300, "{} connections", stats.connections);
    let path = crate::temp_capture("many-connections.pcap", &bytes);
    let file = path.to_str().unwrap();
    let doc = analyze_json(file);
    let inc = &doc["files"][0]["incident"];
    let total = inc["connections"].as_u64().unwrap();
    let problems = inc["problems"].as_u64().unwrap();
    assert_eq!(total, stats.connections);
    assert!(problems > 0 && problems < total, "{problems} of {total}");
    // JSON keeps every connection.
    assert_eq!(
        doc["files"][0]["connections"].as_array().unwrap().len() as u64,
        total
    );
    let (_, text, _) = run(&["analyze", file, "--color", "never"]);
    assert!(
        text.contains(&format!(
            "the {problems} connection(s) with problems follow, of {total}"
        )),
        "{text}"
    );
    assert_eq!(text.matches("\nConnection #").count() as u64, problems);
    // A catalog entry printed once is referred to by later connections: never to one the
    // listing leaves out.
    let listed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Connection #"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let refs: Vec<&str> = text
        .match_indices("explained under connection #")
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            &rest[..rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len())]
        })
        .collect();
    assert!(
        refs.iter().all(|r| listed.contains(r)),
        "{refs:?} not all in {listed:?}"
    );
    let (_, text, _) = run(&["analyze", file, "--color", "never", "--all"]);
    assert_eq!(text.matches("\nConnection #").count() as u64, total);
    assert!(!text.contains("with problems follow"));
}

/// Past the details limit, a listed connection never refers to a catalog entry printed by
/// a connection the listing leaves out: 310 connections, the first closed cleanly with
/// 1000 (not listed), the others closed with 1000 that was never answered (listed).
#[test]
fn a_problems_only_listing_refers_only_to_listed_connections() {
    use wsclose_testgen::close::close_body;
    use wsclose_testgen::conv::{frame, pcap, Conv};
    let body = close_body(1000, b"bye");
    let mut pkts = Vec::new();
    for i in 0..310u32 {
        let mut c = Conv::handshake(1000 + i * 7919, 5000 + i * 104_729);
        c.send(true, &frame(true, 8, true, &body));
        if i == 0 {
            c.send(false, &frame(true, 8, false, &body));
        }
        c.fin(true);
        c.fin(false);
        for p in &mut c.pkts {
            p.ts_us += u64::from(i) * 1_000_000;
        }
        pkts.extend(c.pkts);
    }
    let path = crate::temp_capture("explained-once.pcap", &pcap(&pkts));
    let file = path.to_str().unwrap();
    let inc = &analyze_json(file)["files"][0]["incident"];
    assert_eq!(inc["connections"], 310);
    assert_eq!(inc["problems"], 309);
    let (_, text, _) = run(&["analyze", file, "--color", "never"]);
    assert!(
        !text.contains("\nConnection #1 "),
        "the clean one is not listed"
    );
    assert_eq!(text.matches("\nConnection #").count(), 309);
    // The first listed connection explains 1000; the others refer to it.
    assert_eq!(
        text.matches("explained under connection #2\n").count(),
        308,
        "{text}"
    );
    assert!(!text.contains("explained under connection #1\n"));
}
