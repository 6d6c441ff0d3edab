//! `analyze --format html`: one self-contained page whose embedded data is the JSON
//! document, and that no text from a capture can break out of. (The page is loaded in real
//! browsers by tests/browser/check.sh.)

use serde_json::Value;

use crate::pcapgen::{close_body, frame, Conv};
use crate::{temp_capture, wsclose};

/// The page of `args`, and the `--format json` document of the same arguments.
fn page_and_document(args: &[&str]) -> (String, Value) {
    let run = |format: &str| {
        let mut all = vec!["analyze", "--format", format];
        all.extend_from_slice(args);
        let out = wsclose(&all);
        assert!(
            out.status.success(),
            "{all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    };
    let doc = serde_json::from_str(&run("json")).expect("the JSON document parses");
    (run("html"), doc)
}

/// The text of the `<script type="application/json" id="ID">` element.
fn embedded<'a>(page: &'a str, id: &str) -> &'a str {
    let open = format!("<script type=\"application/json\" id=\"{id}\">");
    let start = page
        .find(&open)
        .unwrap_or_else(|| panic!("no {id} element"))
        + open.len();
    let len = page[start..].find("</script>").expect("element closed");
    &page[start..start + len]
}

/// The page without its two JSON elements: the markup, the style and the script.
fn markup(page: &str) -> String {
    let mut rest = page.to_string();
    for id in ["wsclose-data", "wsclose-catalog"] {
        let data = embedded(&rest, id).to_string();
        rest = rest.replacen(&data, "", 1);
    }
    rest
}

#[test]
fn the_page_fetches_nothing() {
    let (page, _) = page_and_document(&["samples/incident.pcap"]);
    let m = markup(&page).to_ascii_lowercase();
    assert!(!m.contains("<link"), "a <link> element");
    assert!(
        !m.contains("<iframe") && !m.contains("<img"),
        "an embedded resource"
    );
    assert_eq!(m.matches("<script").count(), 3, "three script elements");
    assert!(!m.contains("<script src"), "an external script");
    for attr in ["src=", "href=", "url("] {
        for (at, _) in m.match_indices(attr) {
            let value = m[at + attr.len()..].trim_start_matches(['"', '\'']);
            assert!(
                !(value.starts_with("http:")
                    || value.starts_with("https:")
                    || value.starts_with("//")),
                "an external URL: {}",
                &m[at..(at + 80).min(m.len())]
            );
        }
    }
    // Nothing may be fetched, whatever a later change adds: the page's policy says so.
    assert!(m.contains("content-security-policy") && m.contains("default-src 'none'"));
    // The style and script are a few tens of KB, not more.
    assert!(
        m.len() < 64 << 10,
        "{} bytes of markup, style and script",
        m.len()
    );
}

#[test]
fn the_embedded_data_is_the_json_document() {
    for args in [
        &["samples/incident.pcap"][..],
        &[
            "--lang",
            "ar",
            "samples/going-away.pcap",
            "samples/normal.pcap",
        ][..],
    ] {
        let (page, doc) = page_and_document(args);
        let data: Value = serde_json::from_str(embedded(&page, "wsclose-data"))
            .unwrap_or_else(|e| panic!("{args:?}: embedded data does not parse: {e}"));
        assert_eq!(data, doc, "{args:?}");
    }
}

#[test]
fn the_catalog_explains_the_codes_met_in_both_languages() {
    let (page, _) = page_and_document(&["--lang", "ar", "samples/incident.pcap"]);
    assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"));
    let catalog: Value =
        serde_json::from_str(embedded(&page, "wsclose-catalog")).expect("catalog parses");
    assert_eq!(catalog["lang"], "ar");
    let queries = |lang: &str| -> Vec<String> {
        catalog[lang]
            .as_array()
            .expect("entries")
            .iter()
            .map(|c| c["query"].as_str().expect("query").to_string())
            .collect()
    };
    assert_eq!(queries("en"), queries("ar"));
    // The deploy's 1001, the illegal 1005 answered with 1002, the drops' 1006 as the
    // applications see it, and the TLS failures' unknown_ca alert.
    for q in ["1001", "1002", "1005", "1006", "tls:48"] {
        assert!(
            queries("en").iter().any(|x| x == q),
            "{q} in {:?}",
            queries("en")
        );
    }
    let ar = &catalog["ar"][0];
    assert_ne!(ar["title"], catalog["en"][0]["title"], "Arabic titles");
}

#[test]
fn a_reason_text_cannot_end_the_script_element() {
    let reason = "</script><script>x=1</script><!--<script>\u{2028}\u{2029}";
    let mut c = Conv::handshake(100, 900);
    c.send(
        true,
        &frame(true, 8, true, &close_body(4000, reason.as_bytes())),
    );
    c.send(false, &frame(true, 8, false, &close_body(4000, b"")));
    c.fin(false);
    let path = temp_capture("html-breakout.pcap", &c.pcap());
    let (page, doc) = page_and_document(&[path.to_str().expect("path")]);
    // Exactly the page's own three script elements end, whatever the reason says.
    assert_eq!(page.matches("</script>").count(), 3);
    assert_eq!(page.matches("<script").count(), 3);
    assert!(!page.contains('\u{2028}') && !page.contains('\u{2029}'));
    let data: Value = serde_json::from_str(embedded(&page, "wsclose-data")).expect("parses");
    assert_eq!(data, doc);
    assert_eq!(
        data["files"][0]["connections"][0]["closes"][0]["reason"],
        reason
    );
}

#[test]
fn beyond_the_limit_the_page_lists_the_problems_and_says_so() {
    let cfg = wsclose_testgen::synth::SynthConfig {
        target_bytes: 800 << 10,
        messages: 1,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    let stats = wsclose_testgen::synth::write_capture(&mut bytes, &cfg).expect("synth");
    assert!(
        stats.connections > wsclose::render::DETAILS_LIMIT,
        "{stats:?}"
    );
    let path = temp_capture("html-many.pcap", &bytes);
    let path = path.to_str().expect("path");
    let (page, doc) = page_and_document(&[path]);
    let data: Value = serde_json::from_str(embedded(&page, "wsclose-data")).expect("parses");
    let listed = data["files"][0]["connections"].as_array().expect("listed");
    let incident = &data["incident"];
    assert_eq!(incident["details"], "problems");
    assert_eq!(incident["connections"], doc["incident"]["connections"]);
    assert_eq!(incident["shown"], listed.len());
    assert_eq!(incident["problems"], listed.len());
    assert!(!listed.is_empty() && (listed.len() as u64) < stats.connections);
    // The same document otherwise: the file's counts, and each listed connection.
    assert_eq!(data["files"][0]["summary"], doc["files"][0]["summary"]);
    let all = doc["files"][0]["connections"].as_array().expect("all");
    for c in listed {
        assert!(
            all.contains(c),
            "connection #{} as in the JSON document",
            c["id"]
        );
    }
    let (page, doc) = page_and_document(&["--all", path]);
    let data: Value = serde_json::from_str(embedded(&page, "wsclose-data")).expect("parses");
    assert_eq!(data, doc, "--all: the JSON document itself");
}
