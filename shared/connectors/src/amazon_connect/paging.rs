//! `NextToken` paging: a listing ends at the first page without a token. A token that comes back a second time
//! would have the service hand out the same pages again, forever; it is malformed at once, not read until the
//! run's deadline.

use std::collections::HashSet;

use crate::ConnectorError;

/// The tokens one listing has handed out so far.
pub(crate) struct Tokens {
    operation: &'static str,
    max_pages: u32,
    pages: u32,
    seen: HashSet<String>,
}

impl Tokens {
    /// `operation` names the listing in errors; a listing of more than `max_pages` pages is malformed.
    pub(crate) fn new(operation: &'static str, max_pages: u32) -> Self {
        Self { operation, max_pages, pages: 0, seen: HashSet::new() }
    }

    /// After a page that ended with `next`: the token to ask for the next page with, or `None` at the listing's end
    /// (no token, or an empty one). A token already handed out in this listing, or a page past `max_pages`, is
    /// malformed.
    pub(crate) fn next(&mut self, next: Option<&str>) -> Result<Option<String>, ConnectorError> {
        self.pages += 1;
        let Some(token) = next.filter(|t| !t.is_empty()) else { return Ok(None) };
        if !self.seen.insert(token.to_owned()) {
            return Err(ConnectorError::malformed(format!(
                "{}: a NextToken came back a second time (page {}): the listing would never end",
                self.operation, self.pages
            )));
        }
        if self.pages >= self.max_pages {
            return Err(ConnectorError::malformed(format!(
                "{}: NextToken never ends ({} pages)",
                self.operation, self.pages
            )));
        }
        Ok(Some(token.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_ends_at_the_first_page_without_a_token() {
        let mut tokens = Tokens::new("ListUsers", 10);
        assert_eq!(tokens.next(Some("a")).unwrap().as_deref(), Some("a"));
        assert_eq!(tokens.next(Some("b")).unwrap().as_deref(), Some("b"));
        assert_eq!(tokens.next(Some("")).unwrap(), None, "an empty token ends it too");
        assert_eq!(Tokens::new("ListUsers", 10).next(None).unwrap(), None);
    }

    #[test]
    fn a_token_handed_out_twice_is_malformed() {
        let mut tokens = Tokens::new("ListUsers", 10);
        tokens.next(Some("a")).unwrap();
        tokens.next(Some("b")).unwrap();
        let e = tokens.next(Some("a")).unwrap_err();
        assert!(matches!(e, ConnectorError::Malformed { .. }), "{e:?}");
        assert!(e.to_string().contains("ListUsers: a NextToken came back a second time"), "{e}");
    }

    #[test]
    fn a_listing_longer_than_its_cap_is_malformed() {
        let mut tokens = Tokens::new("ListQueues", 3);
        tokens.next(Some("1")).unwrap();
        tokens.next(Some("2")).unwrap();
        let e = tokens.next(Some("3")).unwrap_err();
        assert!(e.to_string().contains("ListQueues: NextToken never ends (3 pages)"), "{e}");
        let mut tokens = Tokens::new("ListQueues", 3);
        tokens.next(Some("1")).unwrap();
        tokens.next(Some("2")).unwrap();
        assert_eq!(tokens.next(None).unwrap(), None, "the cap's last page may end the listing");
    }
}
