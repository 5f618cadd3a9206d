//! Whether the path a script sends stays under the API base path once the service (or anything in
//! front of it) decodes it. The URL parser resolves plain and `%2e`-encoded dot segments before
//! [`super::target::allowed`] compares prefixes; what it leaves alone is checked here, layer by
//! layer of percent-decoding: dot segments spelt `..%2F`, `%252e%252e`, `..;` (a `;` path
//! parameter, which Tomcat-style servers drop) or with backslashes, and encoded slashes
//! (`%2F`, `%5C`, `%252F`…), which many servers turn into real ones before routing.

/// How many layers of percent-encoding are looked through; a path still changing after that many
/// decodings is refused.
const MAX_LAYERS: usize = 4;

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// One of its decoded forms climbs above the base path.
    Climbs,
    /// It carries an encoded `/` or `\` (at any layer) and the service did not ask for them.
    EncodedSlash,
    /// More layers of percent-encoding than any real path needs.
    TooDeep,
}

/// Checks `rest`, the part of a URL's path after the base path (as the URL parser serialised it,
/// still percent-encoded). `encoded_slashes`: the service needs `%2F` / `%5C` inside segments
/// (climbing out stays refused even then).
pub fn contained(rest: &str, encoded_slashes: bool) -> Result<(), Refusal> {
    let mut form = rest.as_bytes().to_vec();
    for _ in 0..=MAX_LAYERS {
        if climbs(&form) {
            return Err(Refusal::Climbs);
        }
        let decoded = percent_decode(&form);
        if decoded == form {
            return Ok(());
        }
        if !encoded_slashes && has_encoded_separator(&form) {
            return Err(Refusal::EncodedSlash);
        }
        form = decoded;
    }
    Err(Refusal::TooDeep)
}

/// Whether the dot segments of `path` (split at `/` and `\`, each segment cut at its first `;`)
/// go above where it starts. Empty segments count as nothing, as servers that merge slashes see
/// them.
fn climbs(path: &[u8]) -> bool {
    let mut depth: usize = 0;
    for segment in path.split(|b| *b == b'/' || *b == b'\\') {
        let name = segment.split(|b| *b == b';').next().unwrap_or_default();
        match name {
            b"" | b"." => {}
            b".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

fn has_encoded_separator(path: &[u8]) -> bool {
    path.windows(3).any(|w| w[0] == b'%' && matches!(&w[1..], b"2F" | b"2f" | b"5C" | b"5c"))
}

/// One layer of percent-decoding; a `%` not followed by two hex digits stays as it is.
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_stay_inside_pass() {
        for p in ["", "/", "/users/7", "/a/./b", "/a/b/../c", "/items;v=2", "/100%25", "/50%", "/a%20b", "/%7Euser"] {
            assert_eq!(contained(p, false), Ok(()), "{p}");
        }
    }

    #[test]
    fn paths_that_climb_once_decoded_are_refused() {
        for p in [
            "/..;/admin",
            "/.;/..;/admin",
            "/a/..;x/..;y/admin",
            "/..\\admin",
            "/a//../../admin",
            "/%252e%252e/admin",
            "/%25252e%25252e/admin",
        ] {
            assert_eq!(contained(p, false), Err(Refusal::Climbs), "{p}");
            assert_eq!(contained(p, true), Err(Refusal::Climbs), "{p} (encoded slashes allowed)");
        }
        // Encoded separators: refused as such by default; when the service allows them, climbing
        // through them is still refused.
        for p in ["/..%2Fadmin", "/..%2fadmin", "/..%5Cadmin", "/..%252Fadmin", "/a/..%2F..%2F..%2Fadmin"] {
            assert_eq!(contained(p, false), Err(Refusal::EncodedSlash), "{p}");
            assert_eq!(contained(p, true), Err(Refusal::Climbs), "{p} (encoded slashes allowed)");
        }
    }

    #[test]
    fn encoded_slashes_pass_only_when_the_service_needs_them() {
        for p in ["/files/a%2Fb", "/files/a%5Cb", "/files/a%252Fb"] {
            assert_eq!(contained(p, false), Err(Refusal::EncodedSlash), "{p}");
            assert_eq!(contained(p, true), Ok(()), "{p}");
        }
        assert_eq!(contained("/%2525252525252541", true), Err(Refusal::TooDeep));
        assert_eq!(contained("/%25252541", true), Ok(()));
    }

    /// How a lenient server reads a path: percent-decoded `layers` times (or until nothing
    /// changes), backslashes as slashes, `;` parameters dropped, dot segments resolved. `None`
    /// when it climbs above where it starts; else how many separators it saw.
    fn lenient(path: &str, layers: usize) -> Option<usize> {
        let mut form = path.as_bytes().to_vec();
        for _ in 0..layers {
            form = percent_decode(&form);
        }
        let mut depth = 0usize;
        let mut separators = 0;
        for segment in form.split(|b| *b == b'/' || *b == b'\\') {
            separators += 1;
            match segment.split(|b| *b == b';').next().unwrap_or_default() {
                b"" | b"." => {}
                b".." => depth = depth.checked_sub(1)?,
                _ => depth += 1,
            }
        }
        Some(separators - 1)
    }

    proptest::proptest! {
        #[test]
        fn no_accepted_path_climbs_out_however_often_a_server_decodes_it(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "/", "\\", "..", ".", "a", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%25", "%3B", ";", ";x", "%",
            ]), 0..14),
        ) {
            let path = pieces.concat();
            let raw_separators = lenient(&path, 0).unwrap_or(0);
            for layers in 0..=MAX_LAYERS + 1 {
                if contained(&path, true).is_ok() {
                    proptest::prop_assert!(lenient(&path, layers).is_some(), "{} decoded {} times climbs out", path, layers);
                }
                if contained(&path, false).is_ok() {
                    proptest::prop_assert_eq!(lenient(&path, layers), Some(raw_separators), "{} decoded {} times", path, layers);
                }
            }
        }
    }
}
