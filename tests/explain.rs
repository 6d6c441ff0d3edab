//! `wsclose explain`: the catalog on the command line.

use crate::run;

fn has_arabic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0600}'..='\u{06ff}').contains(&c))
}

#[test]
fn one_code() {
    let (code, out, _) = run(&["explain", "1008"]);
    assert_eq!(code, 0);
    for want in [
        "1008 Policy Violation",
        "legal",
        "Rate limits",
        "RFC 6455 §7.4.1",
        "fix:",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
}

#[test]
fn two_codes_side_by_side_with_differences() {
    let (code, out, _) = run(&["explain", "1008", "1015"]);
    assert_eq!(code, 0);
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("1008 Policy Violation") && first.contains("1015 TLS Handshake Failure"),
        "{first}"
    );
    assert!(out.contains("Key differences:"));
    assert!(
        out.contains("1015 (TLS Handshake Failure): illegal: must never be sent"),
        "{out}"
    );
    assert!(out.contains("1008 (Policy Violation): legal"), "{out}");
}

#[test]
fn ranges_and_tls_alerts() {
    let (_, out, _) = run(&["explain", "4001"]);
    assert!(
        out.contains("Private Use") && out.contains("4000-4999"),
        "{out}"
    );
    let (_, out, _) = run(&["explain", "2500"]);
    assert!(
        out.contains("Unassigned") && out.contains("illegal"),
        "{out}"
    );
    let (_, by_number, _) = run(&["explain", "tls:45"]);
    let (_, by_name, _) = run(&["explain", "certificate_expired"]);
    assert_eq!(by_number, by_name);
    assert!(
        by_number.contains("certificate_expired") && by_number.contains("1015"),
        "{by_number}"
    );
}

#[test]
fn unknown_input_is_exit_2() {
    for bad in ["banana", "70000", "tls:999", "tls:1"] {
        let (code, out, err) = run(&["explain", bad]);
        assert_eq!(code, 2, "{bad}");
        assert!(out.is_empty());
        assert!(
            err.starts_with("wsclose: explain: '") && err.contains(bad),
            "{err}"
        );
    }
}

#[test]
fn list_and_json_in_both_languages() {
    for lang in ["en", "ar"] {
        let (code, out, _) = run(&["explain", "--list", "--format", "json", "--lang", lang]);
        assert_eq!(code, 0);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let entries = doc["entries"].as_array().unwrap();
        // Every registered code (1000-1015, 3000, 3003, 3008), every range and every alert.
        let queries: Vec<&str> = entries
            .iter()
            .map(|e| e["query"].as_str().unwrap())
            .collect();
        for q in [
            "1000",
            "1008",
            "1015",
            "3000",
            "3003",
            "3008",
            "0-999",
            "1000-2999",
            "3000-3999",
            "4000-4999",
            "5000-65535",
            "tls:0",
            "tls:116",
            "tls:120",
            "tls:121",
        ] {
            assert!(queries.contains(&q), "{lang}: {q} missing");
        }
        assert_eq!(
            entries.iter().filter(|e| e["kind"] == "tls_alert").count(),
            36
        );
        for e in entries {
            for field in ["meaning", "when", "fix"] {
                let text = e[field].as_str().unwrap();
                assert!(!text.is_empty());
                assert_eq!(
                    has_arabic(text),
                    lang == "ar",
                    "{lang} {} {field}: {text}",
                    e["query"]
                );
            }
        }
    }
    let (_, text, _) = run(&["explain", "--list"]);
    assert!(text.lines().count() > 55);
    let (_, json, _) = run(&["explain", "--format", "json", "1008", "1015"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["entries"].as_array().unwrap().len(), 2);
    assert!(!doc["differences"].as_array().unwrap().is_empty());
}

#[test]
fn arabic_is_plain_utf8() {
    let (code, out, _) = run(&["explain", "--lang", "ar", "1008", "1015"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("مخالفة للسياسة")
            && out.contains("فشل مصافحة TLS")
            && out.contains("الفروق الأساسية"),
        "{out}"
    );
    assert!(!out.chars().any(
        |c| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    ));
}

#[test]
fn arabic_wraps_by_columns_not_characters() {
    // Vowel signs and shadda are combining marks: they take no column, so a line may hold
    // more characters than the width but never more columns.
    let (code, out, _) = run(&["explain", "--lang", "ar", "--width", "100", "1006"]);
    assert_eq!(code, 0);
    let width = wsclose::render::wrap::width;
    assert!(out.lines().all(|l| width(l) <= 100), "{out}");
    assert!(
        out.lines().any(|l| l.chars().count() > 100),
        "no line is filled past 100 characters: marks were counted as columns\n{out}"
    );
}
