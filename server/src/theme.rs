//! The embedded page's theme (`embed_theme`): a few known CSS custom properties with strictly
//! checked values, and the colour scheme, served as a stylesheet of its own at `/theme.css` (the
//! page's CSP allows stylesheets from Liaison itself, nothing inline), linked from embedded pages
//! only. A console cannot style a cross-origin iframe; the operator themes it here instead.
//!
//! Values never reach the stylesheet unchecked: colours are `#rgb` or `#rrggbb`, the radius
//! `0px` to `24px`, the font one of a few names, the scheme `auto`, `light` or `dark`, each name
//! given once. The colours must keep a 4.5:1 contrast (WCAG AA) in every pair people read
//! ([`READ_PAIRS`], the pairs Liaison's own palettes are held to), in every scheme the page may
//! show; a theme that would not is refused at start.

/// Liaison's own stylesheet: its palettes, light and dark, are read from it.
const MAIN_CSS: &str = include_str!("../../style/main.css");

/// The fonts a theme may name, and the stacks they stand for.
const FONTS: &[(&str, &str)] = &[
    ("system", "system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif"),
    ("sans-serif", "\"Helvetica Neue\", Arial, \"Liberation Sans\", sans-serif"),
    ("serif", "Georgia, \"Times New Roman\", \"Liberation Serif\", serif"),
    ("monospace", "ui-monospace, \"SFMono-Regular\", Menlo, Consolas, \"Liberation Mono\", monospace"),
];

/// The colours a theme may set, and the custom property each one sets.
const COLOURS: &[(&str, &str)] = &[
    ("accent", "--liaison-accent"),
    ("accent_text", "--liaison-accent-text"),
    ("background", "--liaison-bg"),
    ("surface", "--liaison-surface"),
    ("text", "--liaison-text"),
    ("muted", "--liaison-muted"),
    ("border", "--liaison-border"),
];

/// The colours people read on one another (`--liaison-` properties, text first): 4.5:1 at least, in
/// Liaison's own palettes and with a theme's colours in them.
pub const READ_PAIRS: &[(&str, &str)] = &[
    ("text", "bg"),
    ("text", "surface"),
    ("muted", "bg"),
    ("muted", "surface"),
    ("accent", "surface"),
    ("accent", "bg"),
    ("accent-text", "accent"),
    ("danger", "surface"),
    ("danger", "danger-bg"),
    ("on-danger", "danger"),
    ("info-text", "info-bg"),
    ("success-text", "success-bg"),
    ("warning-text", "warning-bg"),
    ("neutral-text", "neutral-bg"),
    ("code-text", "code-bg"),
];

/// Which colour scheme the embedded page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// As the browser prefers (`prefers-color-scheme`).
    Auto,
    Light,
    Dark,
}

/// A checked theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub scheme: Scheme,
    /// `(custom property, value)`, every value checked.
    properties: Vec<(&'static str, String)>,
}

/// `#rgb` or `#rrggbb`, as `#rrggbb` in lower case.
fn colour(v: &str) -> Option<String> {
    let hex = v.strip_prefix('#').filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))?;
    match hex.len() {
        3 => Some(format!("#{}", hex.chars().flat_map(|c| [c, c]).collect::<String>().to_lowercase())),
        6 => Some(format!("#{}", hex.to_lowercase())),
        _ => None,
    }
}

/// The relative luminance of a checked `#rrggbb` colour (WCAG 2).
fn luminance(c: &str) -> f64 {
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(c.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0)) / 255.0;
        if v <= 0.040_45 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

/// The contrast ratio of two checked colours, 1 to 21.
pub fn contrast(a: &str, b: &str) -> f64 {
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// The custom properties of one of `style/main.css`'s palettes: the first block after `marker`.
pub fn palette(marker: &str) -> Vec<(String, String)> {
    let block = MAIN_CSS.split_once(marker).and_then(|(_, rest)| rest.split_once('}')).map_or("", |(b, _)| b);
    block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("--liaison-"))
        .filter_map(|l| l.trim_end_matches(';').split_once(':'))
        .map(|(k, v)| (format!("--liaison-{k}"), v.trim().to_string()))
        .collect()
}

/// Where `style/main.css` opens its light palette and its dark one.
pub const LIGHT: &str = "/* light palette */";
pub const DARK: &str = "/* dark palette */";

impl Theme {
    /// Reads `embed_theme`: a TOML table, or `key=value` pairs separated by `;` (how the
    /// environment gives it). The message says what is wrong, and which values are allowed.
    pub fn parse(value: &toml::Value) -> Result<Theme, String> {
        let pairs: Vec<(String, String)> = match value {
            toml::Value::Table(t) => t
                .iter()
                .map(|(k, v)| match v {
                    toml::Value::String(s) => Ok((k.clone(), s.clone())),
                    other => Err(format!("`{k}` must be a string, not {}", other.type_str())),
                })
                .collect::<Result<_, _>>()?,
            toml::Value::String(s) => s
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                        .ok_or_else(|| format!("`{p}` is not key=value"))
                })
                .collect::<Result<_, _>>()?,
            other => return Err(format!("expected a table or a string, not {}", other.type_str())),
        };
        let mut theme = Theme { scheme: Scheme::Auto, properties: Vec::new() };
        let mut seen = std::collections::BTreeSet::new();
        for (key, v) in pairs {
            // Which one would win is not for the reader of the setting to guess.
            if !seen.insert(key.clone()) {
                return Err(format!("`{key}` is given twice"));
            }
            if let Some((_, property)) = COLOURS.iter().find(|(k, _)| *k == key) {
                let c = colour(&v).ok_or_else(|| format!("{key} `{v}` is not a colour like #1f5fd1 or #15d"))?;
                theme.properties.push((property, c));
                continue;
            }
            match key.as_str() {
                "radius" => {
                    let px = v.strip_suffix("px").and_then(|n| n.parse::<u8>().ok()).filter(|n| *n <= 24);
                    let px = px.ok_or_else(|| format!("radius `{v}` is not a length from 0px to 24px"))?;
                    theme.properties.push(("--liaison-radius", format!("{px}px")));
                }
                "font" => {
                    let (_, stack) = FONTS.iter().find(|(name, _)| *name == v).ok_or_else(|| {
                        let names: Vec<&str> = FONTS.iter().map(|(n, _)| *n).collect();
                        format!("font `{v}` is not one of {}", names.join(", "))
                    })?;
                    theme.properties.push(("--liaison-font", (*stack).to_string()));
                }
                "scheme" => {
                    theme.scheme = match v.as_str() {
                        "auto" => Scheme::Auto,
                        "light" => Scheme::Light,
                        "dark" => Scheme::Dark,
                        _ => return Err(format!("scheme `{v}` is not auto, light or dark")),
                    }
                }
                _ => {
                    let known: Vec<&str> =
                        COLOURS.iter().map(|(k, _)| *k).chain(["radius", "font", "scheme"]).collect();
                    return Err(format!("unknown property `{key}`; known: {}", known.join(", ")));
                }
            }
        }
        theme.check_contrast()?;
        Ok(theme)
    }

    /// The theme's colours over each palette the page may show: every pair people read keeps
    /// 4.5:1.
    fn check_contrast(&self) -> Result<(), String> {
        let palettes = match self.scheme {
            Scheme::Auto => vec![("light", LIGHT), ("dark", DARK)],
            Scheme::Light => vec![("light", LIGHT)],
            Scheme::Dark => vec![("dark", DARK)],
        };
        for (scheme, marker) in palettes {
            let base = palette(marker);
            let get = |p: &str| {
                self.properties
                    .iter()
                    .find(|(k, _)| *k == p)
                    .map(|(_, v)| v.clone())
                    .or_else(|| base.iter().find(|(k, _)| k == p).and_then(|(_, v)| colour(v)))
                    .unwrap_or_default()
            };
            // How the message names a colour: as the theme does, else as the palette does.
            let named =
                |short: &'static str, p: &str| COLOURS.iter().find(|(_, prop)| *prop == p).map_or(short, |(k, _)| k);
            for (a_short, b_short) in READ_PAIRS {
                let (a, b) = (format!("--liaison-{a_short}"), format!("--liaison-{b_short}"));
                let (a_name, b_name) = (named(a_short, &a), named(b_short, &b));
                let (a, b) = (a.as_str(), b.as_str());
                let ratio = contrast(&get(a), &get(b));
                if ratio < 4.5 {
                    return Err(format!(
                        "{a_name} {} on {b_name} {} has a contrast of {ratio:.2}:1 in the {scheme} scheme, under the 4.5:1 \
                         people need to read it; change one of them{}",
                        get(a),
                        get(b),
                        if self.scheme == Scheme::Auto { ", or set scheme to light or dark" } else { "" }
                    ));
                }
            }
        }
        Ok(())
    }

    /// The stylesheet: the forced scheme's palette, then the theme's properties.
    pub fn css(&self) -> String {
        let mut css = String::from("/* Liaison's embedded theme (embed_theme). */\n:root {\n");
        let forced = match self.scheme {
            Scheme::Auto => None,
            Scheme::Light => Some(("light", LIGHT)),
            Scheme::Dark => Some(("dark", DARK)),
        };
        if let Some((name, marker)) = forced {
            css.push_str(&format!("  color-scheme: {name};\n"));
            for (k, v) in palette(marker) {
                css.push_str(&format!("  {k}: {v};\n"));
            }
        }
        for (k, v) in &self.properties {
            css.push_str(&format!("  {k}: {v};\n"));
            if *k == "--liaison-accent" {
                css.push_str(&format!("  --liaison-focus: {v};\n"));
                css.push_str(&format!("  --liaison-accent-hover: color-mix(in srgb, {v} 85%, #000000);\n"));
            }
        }
        css.push_str("}\n");
        css
    }
}

#[cfg(test)]
mod tests;
