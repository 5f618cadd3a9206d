//! The catalogue loader on arbitrary TOML: never a panic; what it accepts is a valid catalogue
//! (unique ids, and every entry's spec parses again as a service).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match server::catalog::parse(text, "fuzz.toml") {
        Ok(services) => {
            let mut ids: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
            ids.sort();
            let n = ids.len();
            ids.dedup();
            assert_eq!(ids.len(), n, "duplicate ids accepted");
            for s in &services {
                assert!(!s.spec.api_base_urls.is_empty(), "{}: no API base URL", s.id);
            }
        }
        Err(problems) => assert!(!problems.is_empty(), "refused without a reason"),
    }
});
