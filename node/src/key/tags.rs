//! The text layout of key files: a free header, a blank line, then
//! `tag: value` lines.

/// The file text: `header`, a blank line, one `tag: value` line per tag.
pub(super) fn render(header: &str, tags: &[(String, String)]) -> String {
    let mut text = format!("{header}\n\n");
    for (name, value) in tags {
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
        text.push('\n');
    }
    text
}

/// The `tag: value` lines after the first blank line, as Crossbar.io reads
/// them (tags lowercased, values trimmed, no tag twice).
pub(super) fn parse_tags(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut past_header = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            past_header = true;
            continue;
        }
        if !past_header {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("line {line:?} is not `tag: value`"));
        };
        let name = name.trim().to_ascii_lowercase();
        if tags.iter().any(|(seen, _)| *seen == name) {
            return Err(format!("tag {name} appears twice"));
        }
        tags.push((name, value.trim().to_owned()));
    }
    Ok(tags)
}

/// The value of the tag `name`.
pub(super) fn tag<'t>(tags: &'t [(String, String)], name: &str) -> Option<&'t str> {
    tags.iter()
        .find(|(tag, _)| tag == name)
        .map(|(_, value)| value.as_str())
}
