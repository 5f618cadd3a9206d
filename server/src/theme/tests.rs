use super::*;

fn parse(s: &str) -> Result<Theme, String> {
    Theme::parse(&toml::Value::String(s.into()))
}

#[test]
fn the_palettes_are_read_from_the_stylesheet_and_keep_aa_contrast() {
    let (light, dark) = (palette(LIGHT), palette(DARK));
    assert!(light.len() >= 20, "{light:?}");
    let names = |p: &[(String, String)]| p.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(names(&light), names(&dark), "both palettes set the same properties, in the same order");
    for p in [&light, &dark] {
        let get =
            |k: &str| p.iter().find(|(n, _)| n == k).and_then(|(_, v)| colour(v)).unwrap_or_else(|| panic!("{k}"));
        for (a, b) in READ_PAIRS {
            let (a, b) = (get(&format!("--liaison-{a}")), get(&format!("--liaison-{b}")));
            assert!(contrast(&a, &b) >= 4.5, "{a} on {b}: {}", contrast(&a, &b));
        }
    }
}

#[test]
fn contrast_is_wcags() {
    assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 1e-9);
    assert!((contrast("#777777", "#777777") - 1.0).abs() < 1e-9);
    // #767676 on white is the classic just-AA grey.
    assert!(contrast("#767676", "#ffffff") >= 4.5 && contrast("#777777", "#ffffff") < 4.5);
}

#[test]
fn a_theme_becomes_a_stylesheet_of_checked_values() {
    let t = parse("accent=#0B6E4F; radius=4px; font=serif; scheme=light").unwrap();
    assert_eq!(t.scheme, Scheme::Light);
    let css = t.css();
    assert!(css.contains("  color-scheme: light;\n  --liaison-bg: #f6f7f9;\n"), "{css}");
    assert!(css.contains("  --liaison-accent: #0b6e4f;\n  --liaison-focus: #0b6e4f;\n"), "{css}");
    assert!(css.contains("  --liaison-radius: 4px;\n"), "{css}");
    assert!(css.contains("  --liaison-font: Georgia, "), "{css}");
    // The theme's values come after the palette's, so they win.
    assert!(css.find("--liaison-accent: #1f5fd1").unwrap() < css.find("--liaison-accent: #0b6e4f").unwrap());
    // Forced dark: the dark palette, whatever the browser prefers.
    let css = parse("scheme=dark").unwrap().css();
    assert!(css.contains("  color-scheme: dark;\n  --liaison-bg: #11161d;\n"), "{css}");
    // Following the browser: only the theme's own properties.
    let css = parse("radius=0px").unwrap().css();
    assert!(!css.contains("color-scheme") && !css.contains("--liaison-bg") && css.contains("--liaison-radius: 0px;"));
    // A TOML table says the same; #rgb is widened.
    let table: toml::Value = toml::from_str("accent = \"#15d\"\nscheme = \"light\"").unwrap();
    assert!(Theme::parse(&table).unwrap().css().contains("--liaison-accent: #1155dd;"));
}

#[test]
fn anything_else_is_refused_with_a_reason() {
    for (theme, reason) in [
        ("accent=red", "accent `red` is not a colour like #1f5fd1 or #15d"),
        ("accent=#12345", "is not a colour"),
        ("accent=#1f5fd1;}body{display:none", "is not key=value"),
        ("text=#000000}", "is not a colour"),
        ("background=url(https://evil.example/x)", "is not a colour"),
        ("accent=var(--x)", "is not a colour"),
        ("radius=25px", "radius `25px` is not a length from 0px to 24px"),
        ("radius=4em", "is not a length"),
        ("radius=-1px", "is not a length"),
        ("font=Comic Sans", "font `Comic Sans` is not one of system, sans-serif, serif, monospace"),
        ("scheme=sepia", "scheme `sepia` is not auto, light or dark"),
        ("colour=#ffffff", "unknown property `colour`; known: accent, accent_text"),
        ("accent", "`accent` is not key=value"),
        ("text=#000000; text=#f6f7f9", "`text` is given twice"),
        ("radius=4px; scheme=light; radius=8px", "`radius` is given twice"),
    ] {
        let e = parse(theme).unwrap_err();
        assert!(e.contains(reason), "{theme}: {e}");
    }
    let e = Theme::parse(&toml::from_str::<toml::Value>("radius = 4").unwrap()).unwrap_err();
    assert!(e.contains("`radius` must be a string, not integer"), "{e}");
}

#[test]
fn a_theme_that_would_be_hard_to_read_is_refused() {
    // Light grey text on white.
    let e = parse("text=#aaaaaa; scheme=light").unwrap_err();
    assert!(e.starts_with("text #aaaaaa on background #f6f7f9 has a contrast of"), "{e}");
    assert!(e.contains("in the light scheme"), "{e}");
    // A dark accent is fine on light pages but not in the dark scheme the browser may ask for.
    let e = parse("accent=#0b6e4f; accent_text=#ffffff").unwrap_err();
    assert!(e.contains("in the dark scheme") && e.contains("or set scheme to light or dark"), "{e}");
    assert!(parse("accent=#0b6e4f; accent_text=#ffffff; scheme=light").is_ok());
    assert!(parse("accent=#7fd1b0; scheme=dark").is_ok());
}

#[test]
fn a_dark_surface_under_the_light_scheme_is_refused_for_the_danger_text_it_would_carry() {
    // Every colour the theme sets reads well; the light palette's danger red on it would not.
    let dark = "background=#222222; surface=#222222; text=#ffffff; muted=#cccccc; accent=#8ab4f8; accent_text=#000000";
    let e = parse(&format!("{dark}; scheme=light")).unwrap_err();
    assert!(e.starts_with("danger #b3261e on surface #222222 has a contrast of"), "{e}");
    assert!(e.contains("in the light scheme"), "{e}");
    // The dark palette's danger red is made for dark surfaces.
    assert!(parse(&format!("{dark}; scheme=dark")).is_ok());
}
