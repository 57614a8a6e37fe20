//! A readable dump of every read-model table, to compare two `views.db` files.

use std::path::Path;

/// Every row of every table in `views`, as text, tables by name and rows in primary-key order: two
/// equal dumps mean equal read models. Full-text indexes are compared by their rows, not by their
/// internal segment layout (which depends on how many transactions built them).
pub fn dump_views(views: &Path) -> String {
    let conn = rusqlite::Connection::open(views).expect("open views.db");
    let mut tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
           AND name NOT LIKE '%_fts_%' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("list tables");
    tables.sort();
    let mut out = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\" ORDER BY 1, 2")).expect("select");
        let n = stmt.column_count();
        let mut rows = stmt.query([]).expect("query");
        while let Some(r) = rows.next().expect("row") {
            let cells: Vec<String> = (0..n).map(|i| format!("{:?}", r.get_ref(i).expect("cell"))).collect();
            out.push_str(&format!("{table}: {}\n", cells.join(" | ")));
        }
    }
    out
}
