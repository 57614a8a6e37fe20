//! Query parameters, parsed once at the edge from the endpoint's row in `spec.rs` into `Args`, the
//! typed values a handler receives. What each parameter kind accepts is in `params/syntax.rs`.

mod syntax;

pub use syntax::{Actor, DEFAULT_LIMIT, FeedCursor, Keyset, MAX_LIMIT, MAX_TEXT_CHARS};
use syntax::{actor, choice, did, limit, record_uri, text};

use crate::ApiError;
use crate::spec::{Choice, Endpoint, Kind, Param, Rule};

/// One request's parameters, parsed and validated against its endpoint's row, so a handler only
/// reads typed values. A handler asking for a parameter its row does not declare (or as another
/// type) is a bug: it is answered with a 500, and every endpoint's golden test would show it.
#[derive(Debug)]
pub struct Args {
    endpoint: &'static Endpoint,
    /// One per row parameter, in row order: `None` when absent and without a default.
    values: Vec<Option<Arg>>,
}

/// A parsed value.
#[derive(Debug)]
pub enum Arg {
    Limit(u32),
    Cursor(Keyset),
    /// A DID, an AT-URI or free text.
    Str(String),
    Actor(Actor),
    Choice(&'static str),
}

/// Parses the request's query pairs against `endpoint`'s row: every parameter in row order, the
/// cursor last (it continues the list the others describe), each rule as soon as the parameters it
/// names are parsed; the first problem is the answer. Unknown parameters are ignored.
pub fn parse(endpoint: &'static Endpoint, query: &[(String, String)]) -> Result<Args, ApiError> {
    let params = endpoint.params;
    let mut values: Vec<Option<Arg>> = params.iter().map(|_| None).collect();
    let is_cursor = |p: &Param| matches!(p.kind, Kind::Cursor { .. });
    let rest = params.iter().enumerate().filter(|(_, p)| !is_cursor(p));
    for (i, p) in rest.chain(params.iter().enumerate().filter(|(_, p)| is_cursor(p))) {
        // The last value given wins, as it did when parameters were read into a map.
        let raw = query.iter().rev().find(|(k, _)| k == p.name).map(|(_, v)| v.as_str());
        values[i] = value(p, raw)?;
        for rule in endpoint.rules {
            if rule_ready_at(rule, params) == Some(i) {
                check(rule, params, &values)?;
            }
        }
    }
    Ok(Args { endpoint, values })
}

fn value(p: &Param, raw: Option<&str>) -> Result<Option<Arg>, ApiError> {
    if raw.is_none() && p.required {
        return Err(ApiError::invalid(format!("{} is required", p.name)));
    }
    let name = p.name;
    Ok(match p.kind {
        Kind::Limit => Some(Arg::Limit(limit(raw)?)),
        Kind::Choice { values, .. } => Some(Arg::Choice(choice(name, raw, values)?)),
        Kind::Cursor { ints } => Keyset::decode(raw, ints)?.map(Arg::Cursor),
        Kind::Did { .. } => raw.map(|r| did(name, r)).transpose()?.map(Arg::Str),
        Kind::Actor => raw.map(|r| actor(name, r)).transpose()?.map(Arg::Actor),
        Kind::Uri { collection } => raw.map(|r| record_uri(r, collection)).transpose()?.map(Arg::Str),
        Kind::Text { .. } => raw.map(|r| text(name, r)).transpose()?.map(Arg::Str),
    })
}

/// The row position after whose parsing `rule` can be checked: that of the last parameter it names.
fn rule_ready_at(rule: &Rule, params: &[Param]) -> Option<usize> {
    rule.names().iter().try_fold(None, |last, n| {
        let i = params.iter().position(|p| p.name == *n)?;
        Some(last.max(Some(i)))
    })?
}

fn check(rule: &Rule, params: &[Param], values: &[Option<Arg>]) -> Result<(), ApiError> {
    let given = |name: &str| params.iter().position(|p| p.name == name).is_some_and(|i| values[i].is_some());
    match rule {
        Rule::ExactlyOne(names) if names.iter().filter(|n| given(n)).count() != 1 => {
            Err(ApiError::invalid(format!("give exactly one of {}", names.join(" and "))))
        }
        Rule::ExactlyOne(_) => Ok(()),
    }
}

/// A type a parameter's value is read as.
pub trait FromArg: Sized {
    /// Whether parameters of `kind` parse to this type.
    fn accepts(kind: Kind) -> bool;
    fn from_arg(arg: Arg) -> Option<Self>;
}

impl FromArg for String {
    fn accepts(kind: Kind) -> bool {
        matches!(kind, Kind::Did { .. } | Kind::Uri { .. } | Kind::Text { .. })
    }
    fn from_arg(arg: Arg) -> Option<Self> {
        if let Arg::Str(s) = arg { Some(s) } else { None }
    }
}

impl FromArg for Actor {
    fn accepts(kind: Kind) -> bool {
        matches!(kind, Kind::Actor)
    }
    fn from_arg(arg: Arg) -> Option<Self> {
        if let Arg::Actor(a) = arg { Some(a) } else { None }
    }
}

impl FromArg for u32 {
    fn accepts(kind: Kind) -> bool {
        matches!(kind, Kind::Limit)
    }
    fn from_arg(arg: Arg) -> Option<Self> {
        if let Arg::Limit(n) = arg { Some(n) } else { None }
    }
}

impl FromArg for Keyset {
    fn accepts(kind: Kind) -> bool {
        matches!(kind, Kind::Cursor { .. })
    }
    fn from_arg(arg: Arg) -> Option<Self> {
        if let Arg::Cursor(k) = arg { Some(k) } else { None }
    }
}

impl Args {
    /// The value of the row's parameter `name`, as `T`; `None` when it was not given (and has no
    /// default). Each value is taken once.
    pub fn get<T: FromArg>(&mut self, name: &str) -> Result<Option<T>, ApiError> {
        let i = self.position(name, T::accepts, std::any::type_name::<T>())?;
        Ok(self.values[i].take().and_then(T::from_arg))
    }

    /// The value of a parameter the row requires, or that has a default.
    pub fn need<T: FromArg>(&mut self, name: &str) -> Result<T, ApiError> {
        let i = self.position(name, T::accepts, std::any::type_name::<T>())?;
        let p = self.endpoint.params[i];
        let always = p.required || matches!(p.kind, Kind::Limit | Kind::Choice { .. });
        match self.values[i].take().and_then(T::from_arg) {
            Some(v) if always => Ok(v),
            _ => Err(self.misuse(name, "a parameter it requires")),
        }
    }

    /// The page size.
    pub fn limit(&mut self) -> Result<u32, ApiError> {
        self.need("limit")
    }

    /// The position the previous page ended at; `None` for the first page.
    pub fn cursor(&mut self) -> Result<Option<Keyset>, ApiError> {
        self.get("cursor")
    }

    /// The value of the `Kind::Choice` parameter `name`, declared with `C`'s values.
    pub fn choice<C: Choice>(&mut self, name: &str) -> Result<C, ApiError> {
        let declared = |k: Kind| matches!(k, Kind::Choice { values, .. } if values == C::VALUES);
        let i = self.position(name, declared, std::any::type_name::<C>())?;
        match &self.values[i] {
            Some(Arg::Choice(v)) => C::VALUES.iter().position(|x| x == v).map(|i| C::ALL[i]),
            _ => None,
        }
        .ok_or_else(|| self.misuse(name, "a choice"))
    }

    fn position(&self, name: &str, accepts: impl Fn(Kind) -> bool, ty: &str) -> Result<usize, ApiError> {
        self.endpoint
            .params
            .iter()
            .position(|p| p.name == name && accepts(p.kind))
            .ok_or_else(|| self.misuse(name, ty))
    }

    fn misuse(&self, name: &str, what: &str) -> ApiError {
        ApiError::internal(format!(
            "the handler of {} reads parameter {name} as {what}, which its row does not declare",
            self.endpoint.nsid
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;
    use crate::spec::{ENDPOINTS, ListType, Period, Sort};

    fn parse_query(nsid: &str, query: &str) -> Result<Args, ApiError> {
        let e = ENDPOINTS.iter().find(|e| e.nsid == nsid).unwrap();
        let pairs = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| kv.split_once('=').map_or((kv.into(), String::new()), |(k, v)| (k.into(), v.into())))
            .collect::<Vec<_>>();
        parse(e, &pairs)
    }

    /// The message of the error `query` is refused with.
    fn refusal(nsid: &str, query: &str) -> String {
        let err = parse_query(nsid, query).expect_err(query);
        format!("{err:?}")
    }

    #[test]
    fn a_handler_gets_typed_values_with_defaults_filled_in() {
        let mut a =
            parse_query("fm.reprise.getTracks", "artist=did:plc:x&sort=top&cursor=MXw1fGF0Oi8veA").unwrap();
        assert_eq!(a.limit().unwrap(), DEFAULT_LIMIT);
        assert_eq!(a.choice::<Sort>("sort").unwrap(), Sort::Top);
        assert_eq!(a.choice::<Period>("period").unwrap(), Period::All);
        assert_eq!(a.get::<String>("artist").unwrap().as_deref(), Some("did:plc:x"));
        assert_eq!(a.get::<String>("album").unwrap(), None);
        assert_eq!(a.cursor().unwrap(), Some(Keyset::new(&[5], "at://x")));
        let mut a = parse_query("fm.reprise.getLists", "actor=Fan.Example.com&listType=album").unwrap();
        assert_eq!(a.need::<Actor>("actor").unwrap(), Actor::Handle("fan.example.com".into()));
        assert_eq!(a.choice::<ListType>("listType").unwrap(), ListType::Album);
    }

    #[test]
    fn the_last_value_given_wins_and_unknown_parameters_are_ignored() {
        let mut a = parse_query("fm.reprise.getActivity", "limit=0&limit=7&other=%&=x").unwrap();
        assert_eq!(a.limit().unwrap(), 7);
        assert!(refusal("fm.reprise.getActivity", "limit=7&limit=0").contains("limit must be"));
        assert!(
            refusal("fm.reprise.getActivity", "limit=7&limit").contains("got \\\"\\\""),
            "an empty value is a value"
        );
    }

    /// Parameters are checked in row order, the cursor last and each rule as soon as the parameters
    /// it names are parsed: a request with several problems is answered with the first.
    #[test]
    fn the_first_problem_is_the_answer() {
        let first = |nsid: &str, q: &str, want: &str| {
            let got = refusal(&format!("fm.reprise.{nsid}"), q);
            assert!(got.contains(want), "{nsid}?{q}: {got}");
        };
        first("getTracks", "cursor=xyz&sort=best", "sort must be one of newest, top, got \\\"best\\\"");
        first("getTracks", "cursor=xyz&limit=0", "limit must be an integer from 1 to 100");
        first("getTracks", "cursor=xyz", "malformed cursor");
        first("searchTracks", "limit=0", "q is required");
        first("getPlays", "limit=0&cursor=!!", "give exactly one of actor and track");
        first(
            "getPlays",
            "actor=did:plc:x&track=at://did:plc:x/fm.plyr.track/3k",
            "give exactly one of actor and track",
        );
        first("getPlays", "actor=bad&track=bad", "actor must be a DID or a handle");
        first("getPlays", "track=bad&limit=0", "uri must be an at:// URI of a fm.plyr.track record");
        first("getPlays", "actor=did:plc:x&limit=0", "limit must be");
        first("getLists", "listType=mixtape", "actor is required");
        first("getRecordHistory", "uri=at://did:plc:x/fm.plyr./3k", "of a fm.plyr.* or fm.teal.* record");
        first("getComments", "uri=at://did:plc:x/fm.plyr.track/3k&cursor=MXwx", "malformed cursor");
        assert!(
            parse_query("fm.reprise.getRecordHistory", "uri=at://did:plc:x/fm.teal.alpha.feed.play/3k")
                .is_ok()
        );
    }

    #[test]
    fn a_handler_reading_what_its_row_does_not_declare_gets_a_500() {
        let status =
            |r: Result<(), ApiError>| r.map_or_else(|e| e.into_response().status().as_u16(), |_| 200);
        let a = || parse_query("fm.reprise.getTracks", "artist=did:plc:x").unwrap();
        assert_eq!(status(a().get::<String>("nope").map(drop)), 500, "no such parameter");
        assert_eq!(status(a().get::<Actor>("artist").map(drop)), 500, "not an actor");
        assert_eq!(status(a().need::<String>("artist").map(drop)), 500, "not required");
        assert_eq!(status(a().choice::<ListType>("sort").map(drop)), 500, "another choice");
        assert_eq!(status(a().get::<String>("artist").map(drop)), 200);
    }
}
