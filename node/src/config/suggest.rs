//! "Did you mean": the known word nearest to a mistyped one.

/// The word of `known` nearest to `typed` by edit distance (a swap of two
/// neighbouring letters counts as one edit), when it is near enough to be
/// the likely intent: at most one edit per three letters. Ties go to the
/// first in `known`.
pub(crate) fn nearest<'k>(typed: &str, known: &[&'k str]) -> Option<&'k str> {
    let most = typed.chars().count().div_ceil(3).max(1);
    known
        .iter()
        .map(|word| (strsim::damerau_levenshtein(typed, word), *word))
        .filter(|(distance, _)| *distance <= most)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, word)| word)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTER: &[&str] = &["id", "type", "options", "realms", "transports"];

    #[test]
    fn typos_find_their_key() {
        assert_eq!(nearest("realmz", ROUTER), Some("realms"));
        assert_eq!(nearest("relams", ROUTER), Some("realms"));
        assert_eq!(nearest("transport", ROUTER), Some("transports"));
        assert_eq!(nearest("Options", ROUTER), Some("options"));
        assert_eq!(nearest("tpye", ROUTER), Some("type"));
        assert_eq!(nearest("ix", ROUTER), Some("id"));
    }

    #[test]
    fn strangers_find_nothing() {
        assert_eq!(nearest("xy", ROUTER), None);
        assert_eq!(nearest("components2", ROUTER), None);
        assert_eq!(nearest("anything", &[]), None);
    }

    #[test]
    fn ties_go_to_the_first_known() {
        assert_eq!(nearest("ab", &["ac", "ad"]), Some("ac"));
    }
}
