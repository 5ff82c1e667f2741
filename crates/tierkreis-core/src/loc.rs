//! Node locations: the reference's `Loc` strings (`-`, `-.N3`,
//! `-.N2.L0.N-1`, `-.N8.M4.N2`) that name every node of a running workflow
//! and its checkpoint folder.
//!
//! A [`Loc`] is the string itself, validated when made, so displaying,
//! hashing and ordering it (string order, as in Python) are cheap, and every
//! `Loc` in the program is well formed. Indices are canonical decimal
//! (no `+`, no leading zeros, no `-0`), so two `Loc`s are equal exactly when
//! their steps are.
//!
//! The reference also uses the empty string as the workflow-level location
//! (for workflow metadata); that is not a node location and is not a `Loc`
//! here: storage handles it separately.

use std::fmt;
use std::str::FromStr;

/// One step of a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// The root `-`, always and only the first step.
    Root,
    /// Node `k` of the enclosing graph; `-1` is the graph's input node.
    N(i64),
    /// Iteration `i` of a loop.
    L(u64),
    /// Element `i` of a map.
    M(u64),
}

impl Step {
    /// The step's index; `0` for the root (as the reference's `peek_index`).
    /// `L`/`M` indices beyond `i64::MAX` saturate.
    pub fn index(&self) -> i64 {
        match *self {
            Step::Root => 0,
            Step::N(i) => i,
            Step::L(i) | Step::M(i) => i64::try_from(i).unwrap_or(i64::MAX),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Root => f.write_str("-"),
            Step::N(i) => write!(f, "N{i}"),
            Step::L(i) => write!(f, "L{i}"),
            Step::M(i) => write!(f, "M{i}"),
        }
    }
}

/// Why a string is not a valid location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocError {
    #[error("invalid location \"\": a location starts with \"-\"")]
    Empty,
    #[error("invalid location {loc:?}: it must start with \"-\", not {part:?}")]
    MissingRoot { loc: String, part: String },
    #[error("invalid location {loc:?}: step {position} is empty")]
    EmptyPart { loc: String, position: usize },
    #[error("invalid location {loc:?}: step {part:?} is not N<index>, L<index> or M<index>")]
    UnknownStep { loc: String, part: String },
    #[error("invalid location {loc:?}: step {part:?} does not have a canonical integer index")]
    BadIndex { loc: String, part: String },
    #[error(
        "invalid location {loc:?}: step {part:?} has an index out of range (N >= -1, L and M >= 0)"
    )]
    IndexOutOfRange { loc: String, part: String },
}

/// The location of a node in a running workflow, e.g. `-.N2.L0.N-1`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc(String);

impl Loc {
    /// The root location `-`: the workflow graph itself.
    pub fn root() -> Loc {
        Loc("-".to_string())
    }

    /// Validates a location string.
    pub fn parse(s: &str) -> Result<Loc, LocError> {
        if s.is_empty() {
            return Err(LocError::Empty);
        }
        for (position, part) in s.split('.').enumerate() {
            if position == 0 {
                if part != "-" {
                    return Err(LocError::MissingRoot {
                        loc: s.to_string(),
                        part: part.to_string(),
                    });
                }
                continue;
            }
            check_step(s, position, part)?;
        }
        Ok(Loc(s.to_string()))
    }

    /// The location as the reference writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the root `-`.
    pub fn is_root(&self) -> bool {
        self.0 == "-"
    }

    /// Node `idx` inside this location's graph (`-1`: the graph's inputs).
    ///
    /// # Panics
    /// If `idx < -1`; use [`Loc::try_n`] for indices from untrusted input.
    pub fn n(&self, idx: i64) -> Loc {
        match self.try_n(idx) {
            Ok(loc) => loc,
            Err(e) => panic!("{e}"),
        }
    }

    /// Node `idx` inside this location's graph, or an error if `idx < -1`.
    pub fn try_n(&self, idx: i64) -> Result<Loc, LocError> {
        if idx < -1 {
            return Err(LocError::IndexOutOfRange {
                loc: format!("{}.N{idx}", self.0),
                part: format!("N{idx}"),
            });
        }
        Ok(Loc(format!("{}.N{idx}", self.0)))
    }

    /// Iteration `idx` of the loop at this location.
    pub fn l(&self, idx: u64) -> Loc {
        Loc(format!("{}.L{idx}", self.0))
    }

    /// Element `idx` of the map at this location.
    pub fn m(&self, idx: u64) -> Loc {
        Loc(format!("{}.M{idx}", self.0))
    }

    /// Appends one step (a `Root` step is ignored: it only starts a location).
    ///
    /// # Panics
    /// For `Step::N(i)` with `i < -1`, like [`Loc::n`].
    pub fn push(&self, step: Step) -> Loc {
        match step {
            Step::Root => self.clone(),
            Step::N(i) => self.n(i),
            Step::L(i) => self.l(i),
            Step::M(i) => self.m(i),
        }
    }

    /// The steps, root first.
    pub fn steps(&self) -> Vec<Step> {
        // Valid by construction, so every part parses.
        self.0.split('.').filter_map(parse_step).collect()
    }

    /// The last step (`Root` for the root), the reference's `peek`.
    pub fn last_step(&self) -> Step {
        self.0
            .rsplit('.')
            .next()
            .and_then(parse_step)
            .unwrap_or(Step::Root)
    }

    /// The index of the last step, `0` for the root.
    pub fn peek_index(&self) -> i64 {
        self.last_step().index()
    }

    /// The last step and the location before it; `None` for the root (the
    /// reference returns `("-", Loc(""))`, which is not a node location).
    pub fn pop_last(&self) -> Option<(Step, Loc)> {
        let (rest, last) = self.0.rsplit_once('.')?;
        let step = parse_step(last)?;
        Some((step, Loc(rest.to_string())))
    }

    /// The location this one was reached from, as the reference's
    /// `Loc.parent`: for `X.L<i>` it is the previous iteration `X.L<i-1>`,
    /// for `X.L0`, `X.N<k>` and `X.M<k>` it is `X`. `None` for the root
    /// (the reference returns `Loc("")` there).
    pub fn parent(&self) -> Option<Loc> {
        let (step, rest) = self.pop_last()?;
        match step {
            Step::L(i) if i > 0 => Some(rest.l(i - 1)),
            _ => Some(rest),
        }
    }

    /// Every prefix of this location, root first, ending with `self`.
    pub fn partial_locs(&self) -> Vec<Loc> {
        self.0
            .match_indices('.')
            .map(|(i, _)| Loc(self.0[..i].to_string()))
            .chain([self.clone()])
            .collect()
    }
}

/// Checks one non-root part of `loc`.
fn check_step(loc: &str, position: usize, part: &str) -> Result<(), LocError> {
    let mut chars = part.chars();
    let kind = match chars.next() {
        None => {
            return Err(LocError::EmptyPart {
                loc: loc.to_string(),
                position,
            })
        }
        Some(c) => c,
    };
    let digits = chars.as_str();
    let bad_index = || LocError::BadIndex {
        loc: loc.to_string(),
        part: part.to_string(),
    };
    let out_of_range = || LocError::IndexOutOfRange {
        loc: loc.to_string(),
        part: part.to_string(),
    };
    if !matches!(kind, 'N' | 'L' | 'M') {
        return Err(LocError::UnknownStep {
            loc: loc.to_string(),
            part: part.to_string(),
        });
    }
    let (negative, magnitude) = match digits.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, digits),
    };
    let canonical = !magnitude.is_empty()
        && magnitude.bytes().all(|b| b.is_ascii_digit())
        && (magnitude == "0" || !magnitude.starts_with('0'))
        && !(negative && magnitude == "0");
    if !canonical {
        return Err(bad_index());
    }
    if negative {
        if kind == 'N' && magnitude == "1" {
            return Ok(());
        }
        return Err(out_of_range());
    }
    match kind {
        'N' => magnitude
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| out_of_range()),
        _ => magnitude
            .parse::<u64>()
            .map(|_| ())
            .map_err(|_| out_of_range()),
    }
}

/// Parses one part of a valid location.
fn parse_step(part: &str) -> Option<Step> {
    if part == "-" {
        return Some(Step::Root);
    }
    let (kind, idx) = part.split_at_checked(1)?;
    match kind {
        "N" => idx.parse().ok().map(Step::N),
        "L" => idx.parse().ok().map(Step::L),
        "M" => idx.parse().ok().map(Step::M),
        _ => None,
    }
}

impl Default for Loc {
    /// The root, as the reference's `Loc()` default.
    fn default() -> Self {
        Loc::root()
    }
}

impl FromStr for Loc {
    type Err = LocError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Loc::parse(s)
    }
}

impl TryFrom<&str> for Loc {
    type Error = LocError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Loc::parse(s)
    }
}

impl TryFrom<String> for Loc {
    type Error = LocError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Loc::parse(&s)
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Loc({:?})", self.0)
    }
}

impl AsRef<str> for Loc {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Loc {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Loc {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Loc::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn loc(s: &str) -> Loc {
        Loc::parse(s).unwrap()
    }

    #[test]
    fn building_and_display() {
        assert_eq!(Loc::root().to_string(), "-");
        assert_eq!(Loc::root().n(3).to_string(), "-.N3");
        assert_eq!(Loc::root().n(2).l(0).n(-1).as_str(), "-.N2.L0.N-1");
        assert_eq!(Loc::root().n(8).m(4).n(2).as_str(), "-.N8.M4.N2");
        assert_eq!(
            Loc::root().push(Step::N(8)).push(Step::M(4)),
            loc("-.N8.M4")
        );
        assert!(Loc::root().try_n(-2).is_err());
        assert_eq!(Loc::default(), Loc::root());
    }

    #[test]
    fn steps_and_parts() {
        let l = loc("-.N2.L0.N-1");
        assert_eq!(
            l.steps(),
            vec![Step::Root, Step::N(2), Step::L(0), Step::N(-1)]
        );
        assert_eq!(l.last_step(), Step::N(-1));
        assert_eq!(l.peek_index(), -1);
        assert_eq!(Loc::root().steps(), vec![Step::Root]);
        assert_eq!(Loc::root().last_step(), Step::Root);
        assert_eq!(Loc::root().peek_index(), 0);
        assert_eq!(loc("-.N8.M4").peek_index(), 4);
        assert_eq!(l.pop_last(), Some((Step::N(-1), loc("-.N2.L0"))));
        assert_eq!(Loc::root().pop_last(), None);
        assert_eq!(
            l.partial_locs(),
            vec![loc("-"), loc("-.N2"), loc("-.N2.L0"), l.clone()]
        );
        assert_eq!(Loc::root().partial_locs(), vec![Loc::root()]);
        assert!(Loc::root().is_root());
        assert!(!l.is_root());
    }

    #[test]
    fn parent_follows_the_reference() {
        assert_eq!(loc("-.N2.L3").parent(), Some(loc("-.N2.L2")));
        assert_eq!(loc("-.N2.L0").parent(), Some(loc("-.N2")));
        assert_eq!(loc("-.N2.L0.N5").parent(), Some(loc("-.N2.L0")));
        assert_eq!(loc("-.N8.M4").parent(), Some(loc("-.N8")));
        assert_eq!(loc("-.N3").parent(), Some(Loc::root()));
        assert_eq!(Loc::root().parent(), None);
    }

    #[test]
    fn malformed_locations_are_errors() {
        for bad in [
            "",
            ".",
            "-.",
            "-..N1",
            "N1",
            "x",
            "--",
            "-.-",
            "-.N",
            "-.X1",
            "-.n1",
            "-.N1.",
            "-.Nx",
            "-.N+1",
            "-.N01",
            "-.N-0",
            "-.N-2",
            "-.L-1",
            "-.M-1",
            "-.L",
            "-.N1a",
            "-.N 1",
            " -",
            "-.N99999999999999999999",
            "-.L99999999999999999999",
            "-.N1.Lé",
            "-.é",
            "-.N٣",
        ] {
            let e = Loc::parse(bad).expect_err(bad);
            if !bad.is_empty() {
                assert!(
                    e.to_string().contains(&format!("{bad:?}")),
                    "{e} should name {bad:?}"
                );
            }
        }
        assert!(
            matches!(Loc::parse("-.X1"), Err(LocError::UnknownStep { part, .. }) if part == "X1")
        );
        assert!(matches!(
            Loc::parse("-..N1"),
            Err(LocError::EmptyPart { position: 1, .. })
        ));
        assert!(matches!(
            Loc::parse("-.N-2"),
            Err(LocError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            Loc::parse("N1"),
            Err(LocError::MissingRoot { .. })
        ));
    }

    /// A small deterministic generator (no extra dependency): parse of
    /// display is the identity, and steps rebuild the same location.
    #[test]
    fn generated_locations_round_trip() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let mut l = Loc::root();
            let mut steps = vec![Step::Root];
            for _ in 0..next() % 7 {
                let big = next() % 4 == 0;
                let idx = if big { next() >> 1 } else { next() % 12 };
                let step = match next() % 3 {
                    0 => Step::N(i64::try_from(idx).unwrap() - 1),
                    1 => Step::L(idx),
                    _ => Step::M(next()),
                };
                l = l.push(step);
                steps.push(step);
            }
            let text = l.to_string();
            assert_eq!(Loc::parse(&text).unwrap(), l);
            assert_eq!(text.parse::<Loc>().unwrap(), l);
            assert_eq!(l.steps(), steps);
            let rebuilt = steps.iter().fold(Loc::root(), |acc, s| acc.push(*s));
            assert_eq!(rebuilt, l);
            assert_eq!(l.partial_locs().len(), steps.len());
            // Breaking the text makes it invalid.
            assert!(Loc::parse(&format!("{text}.")).is_err());
            assert!(Loc::parse(&format!("{text}.Q1")).is_err());
            assert!(Loc::parse(&text[1..]).is_err());
        }
    }

    #[test]
    fn serde_as_validated_string() {
        let l = loc("-.N2.L0.N-1");
        assert_eq!(serde_json::to_string(&l).unwrap(), "\"-.N2.L0.N-1\"");
        assert_eq!(
            serde_json::from_str::<Loc>("\"-.N8.M4\"").unwrap(),
            loc("-.N8.M4")
        );
        assert!(serde_json::from_str::<Loc>("\"-.N8.Z4\"").is_err());
        assert!(serde_json::from_str::<Loc>("\"\"").is_err());
    }

    #[test]
    fn ordering_is_string_order() {
        let mut v = vec![loc("-.N3"), loc("-"), loc("-.N10"), loc("-.N2.L0")];
        v.sort();
        assert_eq!(v, vec![loc("-"), loc("-.N10"), loc("-.N2.L0"), loc("-.N3")]);
    }
}
