//! The crate's modules form layers: the graph of which file uses which (`use crate::...`,
//! `super::...`, or a child module by name) has no cycle, so each file can be read knowing only the
//! files below it. The graph is read from the source text; the test names the cycle it finds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (e.g. `["model", "tracks"]`) → the file's text, for every file under `src/`.
fn modules() -> BTreeMap<Vec<String>, String> {
    let mut out = BTreeMap::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(module.last().map(String::as_str), Some("lib" | "mod")) {
                module.pop();
            }
            out.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

/// The code a file's imports are read from: comments and unit tests (whose imports are their own
/// business) left out.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths a use tree at the start of `s` names (`a::b`, `a::{b, c::d}`, `a::*`), each as segments.
fn use_paths(s: &str) -> Vec<Vec<String>> {
    let ident: String = s.chars().take_while(|c| is_ident(*c)).collect();
    let rest = &s[ident.len()..];
    if ident.is_empty() {
        let Some(group) = rest.strip_prefix('{') else { return vec![vec![]] };
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.extend(use_paths(group[start..i].trim_start()));
                    return out;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.extend(use_paths(group[start..i].trim_start()));
                    start = i + 1;
                }
                _ => {}
            }
        }
        return out;
    }
    match rest.strip_prefix("::") {
        Some(rest) => use_paths(rest)
            .into_iter()
            .map(|tail| std::iter::once(ident.clone()).chain(tail).collect())
            .collect(),
        None => vec![vec![ident]],
    }
}

/// The module a path names: its longest prefix that is a module of the crate.
fn resolve(modules: &BTreeMap<Vec<String>, String>, path: &[String]) -> Vec<String> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains_key(p)).unwrap_or_default()
}

/// Which modules each module uses.
fn graph(modules: &BTreeMap<Vec<String>, String>) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut edges = BTreeMap::new();
    for (module, text) in modules {
        let code = code(text);
        let children: Vec<&str> = code
            .lines()
            .filter_map(|l| l.trim().strip_suffix(';')?.split("mod ").nth(1))
            .filter(|name| name.chars().all(is_ident))
            .collect();
        let mut uses = BTreeSet::new();
        for (at, _) in code.match_indices("::") {
            let start = code[..at].rfind(|c: char| !is_ident(c)).map_or(0, |i| i + 1);
            if code[..start].ends_with("::") {
                continue;
            }
            let first = &code[start..at];
            let base: Vec<String> = match first {
                "crate" => vec![],
                "super" => module[..module.len().saturating_sub(1)].to_vec(),
                name if children.contains(&name) => [module.clone(), vec![name.to_owned()]].concat(),
                _ => continue,
            };
            let tails = if first == "crate" || first == "super" {
                use_paths(&code[at + 2..])
            } else {
                use_paths(&code[start..]).into_iter().map(|p| p[1..].to_vec()).collect()
            };
            for mut tail in tails {
                let mut base = base.clone();
                while tail.first().is_some_and(|s| s == "super") {
                    base.pop();
                    tail.remove(0);
                }
                let target = resolve(modules, &[base, tail].concat());
                if &target != module {
                    uses.insert(target);
                }
            }
        }
        edges.insert(module.clone(), uses);
    }
    edges
}

/// A cycle in `edges`, if there is one, as the modules along it.
fn find_cycle(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a Vec<String>,
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        done: &mut BTreeSet<&'a Vec<String>>,
        stack: &mut Vec<&'a Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let name = |m: &Vec<String>| {
                ["crate".to_owned()].into_iter().chain(m.iter().cloned()).collect::<Vec<_>>()
            };
            let cycle = stack[at..].iter().chain([&node]).map(|m| name(m).join("::"));
            return Some(cycle.collect());
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_module_of_the_crate_imports_one_that_imports_it_back() {
    let modules = modules();
    let edges = graph(&modules);
    assert!(edges.values().any(|uses| !uses.is_empty()), "the graph was read: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!("modules import each other in a circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_reader_sees_grouped_nested_and_relative_imports() {
    let modules: BTreeMap<Vec<String>, String> = [
        (vec![], "mod a;\nmod m;\npub use a::X;\n".to_owned()),
        (vec!["a".to_owned()], "use crate::{b::{C, D}, m::n::E};\n// use crate::z;\n".to_owned()),
        (vec!["b".to_owned()], "use super::a;\n#[cfg(test)]\nmod tests { use crate::c; }".to_owned()),
        (vec!["c".to_owned()], "fn f() -> crate::a::T { todo!() }".to_owned()),
        (vec!["m".to_owned()], "mod n;\nfn g() { n::h() }".to_owned()),
        (vec!["m".to_owned(), "n".to_owned()], "use super::super::c;".to_owned()),
    ]
    .into_iter()
    .collect();
    let edges = graph(&modules);
    let names = |m: &str| -> BTreeSet<Vec<String>> {
        edges[&m.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>()]
            .iter()
            .cloned()
            .collect()
    };
    let set = |ms: &[&[&str]]| -> BTreeSet<Vec<String>> {
        ms.iter().map(|m| m.iter().map(|s| (*s).to_owned()).collect()).collect()
    };
    assert_eq!(names(""), set(&[&["a"]]));
    assert_eq!(names("a"), set(&[&["b"], &["m", "n"]]));
    assert_eq!(
        names("b"),
        set(&[&["a"]]),
        "`super` of a top-level module is the crate root; tests are left out"
    );
    assert_eq!(names("c"), set(&[&["a"]]));
    assert_eq!(names("m"), set(&[&["m", "n"]]));
    assert_eq!(names("m/n"), set(&[&["c"]]));
    let cycle = find_cycle(&edges).expect("a -> b -> a");
    assert_eq!(cycle.first(), cycle.last());
}
