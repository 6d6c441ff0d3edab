//! Proxies on the wire (samples/proxy-*.pcap: nginx 1.22 and HAProxy 2.6 in front of a
//! python-websockets backend, both legs recorded): the idle time before the proxy's FIN
//! matched against its 5 s timeout, nginx named from the 101 response, the two legs linked
//! both ways with the side that ended first; and no link between unrelated connections.

use serde_json::Value;

use crate::{analyze_json, root, run};

fn samples_dir() -> std::path::PathBuf {
    root().join("samples")
}

/// The connections of a one-file JSON report.
fn connections(sample: &str) -> Vec<Value> {
    let doc = analyze_json(&format!("samples/{sample}"));
    doc["files"][0]["connections"]
        .as_array()
        .unwrap_or_else(|| panic!("{sample}: no connections: {doc}"))
        .clone()
}

/// The client leg and the backend leg of a proxied sample, by the port each one talks to:
/// the proxy listens on the port below the backend's.
fn legs(sample: &str) -> (Value, Value) {
    let conns = connections(sample);
    assert_eq!(conns.len(), 2, "{sample}: two legs expected");
    let port = |c: &Value| {
        c["server"]
            .as_str()
            .and_then(|s| s.rsplit(':').next())
            .and_then(|p| p.parse::<u16>().ok())
            .expect("server port")
    };
    let (a, b) = (conns[0].clone(), conns[1].clone());
    if port(&a) < port(&b) {
        (a, b)
    } else {
        (b, a)
    }
}

/// Each leg names the other, with the other's role, and both tell the same story.
fn assert_linked(sample: &str, cl: &Value, be: &Value) -> (String, String) {
    let (cl_link, be_link) = (&cl["story"]["linked_leg"], &be["story"]["linked_leg"]);
    assert_eq!(cl_link["connection"], be["id"], "{sample}: {cl_link}");
    assert_eq!(cl_link["role"], "backend_leg", "{sample}");
    assert_eq!(be_link["connection"], cl["id"], "{sample}: {be_link}");
    assert_eq!(be_link["role"], "client_leg", "{sample}");
    assert_eq!(cl_link["story"], be_link["story"], "{sample}");
    assert!(
        cl_link["frames_matched"].as_u64().unwrap_or(0) >= 4,
        "{sample}"
    );
    (
        cl_link["ended_by"].as_str().unwrap_or("").to_string(),
        cl_link["ended_on"].as_str().unwrap_or("").to_string(),
    )
}

fn idle_ms(c: &Value) -> f64 {
    c["story"]["idle_before_end_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no idle time: {c}"))
}

#[test]
fn nginx_idle_timeout_matches_its_configured_value() {
    let (cl, be) = legs("proxy-nginx-idle.pcap");
    for leg in [&cl, &be] {
        assert_eq!(leg["story"]["outcome"], "abnormal");
        let idle = idle_ms(leg);
        assert!((4_900.0..5_100.0).contains(&idle), "idle {idle}");
        let t = &leg["story"]["idle_timeout"];
        assert_eq!(t["seconds"], 5, "{t}");
        assert_eq!(t["kind"], "configured", "{t}");
        assert_eq!(t["setting"], "nginx proxy_read_timeout", "{t}");
        assert_eq!(t["confidence"], "high", "{t}");
        let cause = leg["story"]["likely_cause"].as_str().unwrap_or("");
        assert!(
            cause.starts_with("nginx closed the idle connection after its proxy_read_timeout (5 s configured here)"),
            "{cause}"
        );
    }
    // nginx is named by the client leg's 101 response; the backend's says Python.
    let p = &cl["story"]["proxy"];
    assert_eq!(
        (p["name"].as_str(), p["header"].as_str()),
        (Some("nginx"), Some("server"))
    );
    assert_eq!(p["side"], "server");
    assert!(be["story"].get("proxy").is_none(), "{}", be["story"]);
    // nginx closed both legs: the backend first, the client a fraction of a ms later.
    let (by, on) = assert_linked("proxy-nginx-idle", &cl, &be);
    assert_eq!((by.as_str(), on.as_str()), ("proxy", "backend_leg"));
    assert_eq!(cl["story"]["tcp_end"]["by"], "server_to_client");
    assert_eq!(be["story"]["tcp_end"]["by"], "client_to_server");
    let relay = cl["story"]["linked_leg"]["relay_ms"]
        .as_f64()
        .unwrap_or(-1.0);
    assert!((0.0..5.0).contains(&relay), "relay {relay}");
}

#[test]
fn nginx_passes_a_killed_backend_on_to_the_client() {
    let (cl, be) = legs("proxy-nginx-kill.pcap");
    let (by, on) = assert_linked("proxy-nginx-kill", &cl, &be);
    assert_eq!((by.as_str(), on.as_str()), ("backend", "backend_leg"));
    assert_eq!(be["story"]["tcp_end"]["by"], "server_to_client");
    assert_eq!(cl["story"]["tcp_end"]["by"], "server_to_client");
    // Half a second of quiet matches no timeout.
    for leg in [&cl, &be] {
        assert!(
            leg["story"].get("idle_timeout").is_none(),
            "{}",
            leg["story"]
        );
    }
    let cause = cl["story"]["likely_cause"].as_str().unwrap_or("");
    assert!(
        cause.starts_with("the backend ended the session, not nginx"),
        "{cause}"
    );
    let story = cl["story"]["linked_leg"]["story"].as_str().unwrap_or("");
    assert!(
        story.starts_with("the backend closed TCP first: its FIN"),
        "{story}"
    );
}

#[test]
fn haproxy_idle_timeout_and_kill() {
    // HAProxy passes the backend's Server header through: the proxy is not named, but the
    // link shows it closed both legs (FIN to the client, RST to the backend) at 5 s.
    let (cl, be) = legs("proxy-haproxy-idle.pcap");
    let (by, on) = assert_linked("proxy-haproxy-idle", &cl, &be);
    assert_eq!((by.as_str(), on.as_str()), ("proxy", "client_leg"));
    assert_eq!(cl["story"]["tcp_end"]["kind"], "fin");
    assert_eq!(be["story"]["tcp_end"]["kind"], "rst");
    for leg in [&cl, &be] {
        assert!(leg["story"].get("proxy").is_none(), "{}", leg["story"]);
        let idle = idle_ms(leg);
        assert!((4_900.0..5_100.0).contains(&idle), "idle {idle}");
        let t = &leg["story"]["idle_timeout"];
        assert_eq!(
            (t["seconds"].as_u64(), t["kind"].as_str()),
            (Some(5), Some("configured")),
            "{t}"
        );
    }
    let (cl, be) = legs("proxy-haproxy-kill.pcap");
    let (by, on) = assert_linked("proxy-haproxy-kill", &cl, &be);
    assert_eq!((by.as_str(), on.as_str()), ("backend", "backend_leg"));
}

#[test]
fn proxy_lines_in_the_text_report() {
    let (code, out, _) = run(&[
        "analyze",
        "--color",
        "never",
        "samples/proxy-nginx-idle.pcap",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("proxy nginx: the 101 response's Server header says \"nginx/1.22.1\""),
        "{out}"
    );
    assert!(
        out.contains(
            "idle 5.001 s before the FIN: matches nginx proxy_read_timeout set to 5 s (high"
        ),
        "{out}"
    );
    assert_eq!(out.matches("other leg #").count(), 2, "{out}");
}

#[test]
fn client_truth_sidecars_say_1006() {
    for name in [
        "proxy-nginx-idle",
        "proxy-nginx-kill",
        "proxy-haproxy-idle",
        "proxy-haproxy-kill",
    ] {
        let path = samples_dir().join(format!("{name}.client.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let truth: Value = serde_json::from_str(&text).expect("sidecar JSON");
        assert_eq!(truth["family"], "python", "{name}");
        assert_eq!(truth["reported"]["code"], 1006, "{name}");
    }
}

#[test]
fn unrelated_connections_are_not_linked() {
    let samples = std::fs::read_dir(samples_dir()).expect("samples/");
    let mut checked = 0;
    for entry in samples {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let capture = [".pcap", ".pcapng", ".pcap.gz"]
            .iter()
            .any(|e| name.ends_with(e));
        if !capture || name.starts_with("proxy-") {
            continue;
        }
        for c in connections(&name) {
            assert!(
                c["story"].get("linked_leg").is_none(),
                "{name}: {}",
                c["story"]
            );
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} samples checked");
}
