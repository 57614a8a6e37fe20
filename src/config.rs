//! Configuration: the embedded defaults (config.toml), then a file, then `REPRISE_*` variables, then
//! flags. Read once here, validated, and handed to each stage as a small struct.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
pub use reprise_ingest::StreamStart;
use serde::Deserialize;
use toml::{Table, Value};

/// The documented defaults, compiled in so the binary runs with no file at all.
pub const DEFAULTS: &str = include_str!("../config.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub api: ApiConfig,
    pub ingest: IngestConfig,
    pub projector: ProjectorConfig,
    pub lexicons: LexiconsConfig,
    pub log: LogConfig,
    pub identity: reprise_atproto_net::IdentityConfig,
    pub media: reprise_media::MediaConfig,
    pub storage: reprise_store::StorageConfig,
    pub snapshots: SnapshotsConfig,
    pub backfill: BackfillConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotsConfig {
    /// Seconds between scheduled snapshots in `reprise run`; 0: none.
    pub interval_seconds: u64,
    /// Snapshots kept after each one is taken; 0: all.
    pub retention: usize,
    /// With the local backend: where snapshots and log archives go (shared with other nodes, say);
    /// empty: the media store under `data_dir`.
    pub local_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillConfig {
    pub max_repo_bytes: u64,
    pub concurrency: usize,
    pub host_concurrency: usize,
    pub host_requests_per_second: f64,
    pub retries: u32,
    pub backoff_initial_ms: u64,
    pub connect_timeout_ms: u64,
    pub read_timeout_ms: u64,
    /// `reprise run` repairs recorded gaps this often (a failing repo less often: see `gap_repair.rs`);
    /// 0: only `reprise backfill --gaps` does.
    pub gap_repair_interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconsConfig {
    /// Empty means the built-in schemas.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    pub request_timeout_ms: u64,
    pub cache_max_age_seconds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub batch_size: usize,
    pub max_frame_bytes: usize,
    pub hosts: Vec<String>,
    pub wanted_collections: Vec<String>,
    pub wanted_dids: Vec<String>,
    pub compress: bool,
    pub rewind_seconds: u64,
    pub replay_window_seconds: u64,
    pub blind_window_seconds: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub firehose: Vec<String>,
    pub firehose_start: StreamStart,
    pub jetstream_start: StreamStart,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectorConfig {
    pub batch_size: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Overrides from flags, applied last.
#[derive(Debug, Clone, Default)]
pub struct FlagOverrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub log_json: bool,
}

/// Builds the configuration from the defaults, an optional file, the environment and flags.
pub fn load(
    file: Option<&std::path::Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &FlagOverrides,
) -> anyhow::Result<Config> {
    let mut table: Table = DEFAULTS.parse().context("embedded config.toml")?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let user: Table =
            text.parse().with_context(|| format!("config {} is not valid TOML", path.display()))?;
        merge(&mut table, user, "")?;
    }
    let mut vars: Vec<_> = env.into_iter().filter(|(k, _)| k.starts_with("REPRISE_")).collect();
    vars.sort();
    for (name, value) in vars {
        apply_env(&mut table, &name, &value)?;
    }
    let mut config = parse(table)?;
    if let Some(dir) = &flags.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(listen) = flags.listen {
        config.api.listen = listen;
    }
    if flags.log_json {
        config.log.format = LogFormat::Json;
    }
    validate(&config)?;
    Ok(config)
}

/// Merges `user` into `base`; every key must already exist in the defaults with the same type.
fn merge(base: &mut Table, user: Table, prefix: &str) -> anyhow::Result<()> {
    for (key, value) in user {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match (base.get_mut(&key), value) {
            (None, _) => bail!("unknown configuration key `{path}`"),
            (Some(Value::Table(b)), Value::Table(u)) => merge(b, u, &path)?,
            (Some(Value::Table(_)), _) => bail!("configuration key `{path}` must be a table"),
            (Some(slot), value) => {
                if slot.type_str() != value.type_str() {
                    bail!(
                        "configuration key `{path}` must be a {}, got a {}",
                        slot.type_str(),
                        value.type_str()
                    );
                }
                *slot = value;
            }
        }
    }
    Ok(())
}

/// `REPRISE_API__LISTEN=...` sets `api.listen`; the value is read as the default's type.
fn apply_env(table: &mut Table, name: &str, raw: &str) -> anyhow::Result<()> {
    let path: Vec<String> = name["REPRISE_".len()..].split("__").map(str::to_lowercase).collect();
    let dotted = path.join(".");
    let unknown = || anyhow::anyhow!("{name}: unknown configuration key `{dotted}`");
    let (last, sections) = path.split_last().ok_or_else(unknown)?;
    let mut node = table;
    for part in sections {
        node = match node.get_mut(part) {
            Some(Value::Table(t)) => t,
            _ => return Err(unknown()),
        };
    }
    let slot = node.get_mut(last).ok_or_else(unknown)?;
    *slot = match slot {
        Value::Table(_) => return Err(unknown()),
        Value::Integer(_) => Value::Integer(raw.trim().parse().with_context(|| {
            format!("{name}: configuration key `{dotted}` must be an integer, got {raw:?}")
        })?),
        Value::Boolean(_) => Value::Boolean(raw.trim().parse().with_context(|| {
            format!("{name}: configuration key `{dotted}` must be true or false, got {raw:?}")
        })?),
        // Arrays (of strings) are comma-separated: REPRISE_INGEST__HOSTS=wss://a/subscribe,wss://b/subscribe
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        _ => Value::String(raw.to_owned()),
    };
    Ok(())
}

fn parse(table: Table) -> anyhow::Result<Config> {
    // Deserialize section by section so an error names the key it is about.
    let get = |key: &str| table.get(key).cloned().unwrap_or(Value::Table(Table::new()));
    fn section<T: serde::de::DeserializeOwned>(name: &str, v: Value) -> anyhow::Result<T> {
        v.try_into().map_err(|e: toml::de::Error| anyhow::anyhow!("configuration `{name}`: {}", e.message()))
    }
    Ok(Config {
        data_dir: section("data_dir", get("data_dir"))?,
        api: section("api", get("api"))?,
        ingest: section("ingest", get("ingest"))?,
        projector: section("projector", get("projector"))?,
        lexicons: section("lexicons", get("lexicons"))?,
        log: section("log", get("log"))?,
        identity: section("identity", get("identity"))?,
        media: section("media", get("media"))?,
        storage: section("storage", get("storage"))?,
        snapshots: section("snapshots", get("snapshots"))?,
        backfill: section("backfill", get("backfill"))?,
    })
}

fn validate(c: &Config) -> anyhow::Result<()> {
    if !(1..=600_000).contains(&c.api.request_timeout_ms) {
        bail!(
            "configuration key `api.request_timeout_ms` must be from 1 to 600000, got {}",
            c.api.request_timeout_ms
        );
    }
    if c.data_dir.as_os_str().is_empty() {
        bail!("configuration key `data_dir` must not be empty");
    }
    for (key, value, max) in [
        ("ingest.batch_size", c.ingest.batch_size, 100_000),
        ("projector.batch_size", c.projector.batch_size, 100_000),
        ("ingest.max_frame_bytes", c.ingest.max_frame_bytes, 64 << 20),
    ] {
        if value == 0 || value > max {
            bail!("configuration key `{key}` must be from 1 to {max}, got {value}");
        }
    }
    if c.ingest.hosts.is_empty() {
        bail!("configuration key `ingest.hosts` must list at least one Jetstream URL");
    }
    for host in &c.ingest.hosts {
        reprise_ingest::Wire::of(host)
            .map_err(|e| anyhow::anyhow!("configuration key `ingest.hosts`: {e}"))?;
    }
    for url in &c.ingest.firehose {
        reprise_ingest::check_firehose_url(url)
            .map_err(|e| anyhow::anyhow!("configuration key `ingest.firehose`: {e}"))?;
    }
    for (key, value) in [
        ("ingest.backoff_initial_ms", c.ingest.backoff_initial_ms),
        ("ingest.backoff_max_ms", c.ingest.backoff_max_ms),
        ("ingest.blind_window_seconds", c.ingest.blind_window_seconds),
        ("ingest.replay_window_seconds", c.ingest.replay_window_seconds),
    ] {
        if value == 0 {
            bail!("configuration key `{key}` must be positive");
        }
    }
    validate_media(c)?;
    validate_backfill(&c.backfill)?;
    tracing_subscriber::EnvFilter::try_new(&c.log.level)
        .map_err(|e| anyhow::anyhow!("configuration key `log.level` is not a valid filter: {e}"))?;
    Ok(())
}

fn validate_media(c: &Config) -> anyhow::Result<()> {
    url::Url::parse(&c.identity.plc_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| anyhow::anyhow!("configuration key `identity.plc_url` must be an http(s) URL"))?;
    if !(1..=64).contains(&c.media.concurrency) {
        bail!("configuration key `media.concurrency` must be from 1 to 64, got {}", c.media.concurrency);
    }
    if c.media.max_blob_bytes == 0 {
        bail!("configuration key `media.max_blob_bytes` must be positive");
    }
    if !(1..=100).contains(&c.media.max_attempts) {
        bail!("configuration key `media.max_attempts` must be from 1 to 100, got {}", c.media.max_attempts);
    }
    if c.media.retry_initial_ms > c.media.retry_max_ms {
        bail!("configuration key `media.retry_initial_ms` must not exceed `media.retry_max_ms`");
    }
    if c.storage.backend == reprise_store::StorageBackend::S3 && c.storage.s3.bucket.is_empty() {
        bail!("configuration key `storage.s3.bucket` must be set when `storage.backend` is \"s3\"");
    }
    Ok(())
}

fn validate_backfill(b: &BackfillConfig) -> anyhow::Result<()> {
    for (key, value, max) in [
        ("backfill.concurrency", b.concurrency as u64, 256),
        ("backfill.host_concurrency", b.host_concurrency as u64, 64),
        ("backfill.max_repo_bytes", b.max_repo_bytes, 16 << 30),
        ("backfill.connect_timeout_ms", b.connect_timeout_ms, 600_000),
        ("backfill.read_timeout_ms", b.read_timeout_ms, 600_000),
    ] {
        if value == 0 || value > max {
            bail!("configuration key `{key}` must be from 1 to {max}, got {value}");
        }
    }
    if b.gap_repair_interval_secs > 7 * 86_400 {
        bail!("configuration key `backfill.gap_repair_interval_secs` must be from 0 to 604800");
    }
    if !(b.host_requests_per_second > 0.0 && b.host_requests_per_second <= 10_000.0) {
        bail!("configuration key `backfill.host_requests_per_second` must be above 0 and at most 10000");
    }
    Ok(())
}

/// The object store the configuration names: files under `data_dir/media`, or the S3 bucket.
pub fn open_store(c: &Config) -> anyhow::Result<std::sync::Arc<dyn reprise_store::ObjectStore>> {
    reprise_store::open_store(&c.storage, &c.data_dir.join("media"))
        .map_err(|e| anyhow::anyhow!("storage: {e}"))
}

/// The store snapshots and log archives go to: the configured one, except that with the local backend
/// `snapshots.local_dir` (when set) replaces the media directory.
pub fn open_archive_store(c: &Config) -> anyhow::Result<std::sync::Arc<dyn reprise_store::ObjectStore>> {
    let local = &c.snapshots.local_dir;
    if local.as_os_str().is_empty() || c.storage.backend != reprise_store::StorageBackend::Local {
        return open_store(c);
    }
    reprise_store::open_store(&c.storage, local).map_err(|e| anyhow::anyhow!("storage: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn err(file: Option<&str>, vars: &[(&str, &str)]) -> String {
        let dir = tempfile_dir();
        let path = dir.join("c.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let r = load(file.map(|_| path.as_path()), env(vars), &FlagOverrides::default());
        format!("{:#}", r.unwrap_err())
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "reprise-config-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn defaults_load_and_layers_apply_in_order() {
        let c = load(None, env(&[]), &FlagOverrides::default()).unwrap();
        assert_eq!(c.api.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.ingest.batch_size, 1000);
        let c = load(
            None,
            env(&[
                ("REPRISE_API__LISTEN", "127.0.0.1:9"),
                ("REPRISE_INGEST__BATCH_SIZE", "10"),
                ("HOME", "/x"),
            ]),
            &FlagOverrides::default(),
        )
        .unwrap();
        assert_eq!((c.api.listen.port(), c.ingest.batch_size), (9, 10));
        let flags = FlagOverrides {
            listen: Some("127.0.0.1:7".parse().unwrap()),
            log_json: true,
            ..Default::default()
        };
        let c = load(None, env(&[("REPRISE_API__LISTEN", "127.0.0.1:9")]), &flags).unwrap();
        assert_eq!((c.api.listen.port(), c.log.format), (7, LogFormat::Json));
    }

    #[test]
    fn array_keys_take_comma_separated_environment_values() {
        let c = load(None, env(&[]), &FlagOverrides::default()).unwrap();
        assert_eq!(c.ingest.hosts.len(), 4);
        assert_eq!(c.ingest.wanted_collections, ["fm.plyr.*", "fm.teal.*"]);
        let c = load(
            None,
            env(&[
                (
                    "REPRISE_INGEST__HOSTS",
                    "ws://a:1/subscribe, ws://b:2/xrpc/network.bsky.jetstream.subscribeEvents",
                ),
                ("REPRISE_INGEST__WANTED_DIDS", "did:plc:a,did:plc:b,"),
                ("REPRISE_INGEST__COMPRESS", "false"),
            ]),
            &FlagOverrides::default(),
        )
        .unwrap();
        assert_eq!(
            c.ingest.hosts,
            ["ws://a:1/subscribe", "ws://b:2/xrpc/network.bsky.jetstream.subscribeEvents"]
        );
        assert_eq!(c.ingest.wanted_dids, ["did:plc:a", "did:plc:b"]);
        assert!(!c.ingest.compress);
        let got = err(None, &[("REPRISE_INGEST__HOSTS", "https://nope/subscribe")]);
        assert!(got.contains("`ingest.hosts`"), "{got}");
        let got = err(None, &[("REPRISE_INGEST__HOSTS", "ws://a/firehose")]);
        assert!(got.contains("unknown Jetstream path"), "{got}");
    }

    #[test]
    fn the_documented_defaults_are_the_ones_ingest_falls_back_on() {
        use std::time::Duration;
        let c = load(None, env(&[]), &FlagOverrides::default()).unwrap().ingest;
        let (live, firehose) =
            (reprise_ingest::LiveOptions::default(), reprise_ingest::FirehoseOptions::default());
        assert_eq!(c.wanted_collections, reprise_ingest::MUSIC_COLLECTIONS);
        assert_eq!(
            (&live.filters.wanted_collections, &firehose.filters),
            (&c.wanted_collections, &live.filters)
        );
        assert!(c.wanted_dids.is_empty() && live.filters.wanted_dids.is_empty());
        assert_eq!(c.hosts, live.hosts);
        assert_eq!((c.firehose_start, firehose.start), (StreamStart::Oldest, StreamStart::Oldest));
        let conn = &live.connection;
        assert_eq!((c.batch_size, c.max_frame_bytes), (conn.batch_size, conn.max_frame_bytes));
        let backoff = (Duration::from_millis(c.backoff_initial_ms), Duration::from_millis(c.backoff_max_ms));
        assert_eq!(backoff, (conn.backoff_initial, conn.backoff_max));
        let windows = [c.rewind_seconds, c.replay_window_seconds, c.blind_window_seconds];
        assert_eq!(windows.map(Duration::from_secs), [live.rewind, live.replay_window, live.blind_window]);
        assert_eq!(c.compress, live.compress);
    }

    #[test]
    fn firehose_keys() {
        let c = load(None, env(&[]), &FlagOverrides::default()).unwrap();
        assert!(c.ingest.firehose.is_empty());
        assert_eq!(c.ingest.firehose_start, StreamStart::Oldest);
        let url = "ws://127.0.0.1:2583/xrpc/com.atproto.sync.subscribeRepos";
        let vars = [("REPRISE_INGEST__FIREHOSE", url), ("REPRISE_INGEST__FIREHOSE_START", "live")];
        let c = load(None, env(&vars), &FlagOverrides::default()).unwrap();
        assert_eq!(
            (c.ingest.firehose.as_slice(), c.ingest.firehose_start),
            ([url.to_owned()].as_slice(), StreamStart::Live)
        );
        let got = err(None, &[("REPRISE_INGEST__FIREHOSE", "ws://a/subscribe")]);
        assert!(got.contains("`ingest.firehose`") && got.contains("subscribeRepos"), "{got}");
        let got = err(None, &[("REPRISE_INGEST__FIREHOSE_START", "newest")]);
        assert!(got.contains("unknown variant `newest`, expected `oldest` or `live`"), "{got}");
    }

    #[test]
    fn jetstream_start_key() {
        let c = load(None, env(&[]), &FlagOverrides::default()).unwrap();
        assert_eq!(c.ingest.jetstream_start, StreamStart::Live);
        let c = load(None, env(&[("REPRISE_INGEST__JETSTREAM_START", "oldest")]), &FlagOverrides::default());
        assert_eq!(c.unwrap().ingest.jetstream_start, StreamStart::Oldest);
        let got = err(None, &[("REPRISE_INGEST__JETSTREAM_START", "never")]);
        assert!(got.contains("`ingest.jetstream_start`") || got.contains("unknown variant `never`"), "{got}");
    }

    #[test]
    fn bad_configuration_names_the_key() {
        for (file, vars, expected) in [
            (None, vec![("REPRISE_API__LISTN", "x")], "`api.listn`"),
            (None, vec![("REPRISE_API__LISTEN", "nowhere")], "configuration `api`"),
            (None, vec![("REPRISE_INGEST__BATCH_SIZE", "lots")], "`ingest.batch_size` must be an integer"),
            (None, vec![("REPRISE_INGEST__BATCH_SIZE", "0")], "`ingest.batch_size` must be from 1"),
            (None, vec![("REPRISE_LOG__FORMAT", "xml")], "configuration `log`"),
            (None, vec![("REPRISE_LOG__LEVEL", "[[[")], "`log.level`"),
            (None, vec![("REPRISE_API", "x")], "`api`"),
            (Some("[api]\nlisten = 5\n"), vec![], "`api.listen` must be a string"),
            (Some("[apii]\n"), vec![], "unknown configuration key `apii`"),
            (Some("data_dir = \"\"\n"), vec![], "`data_dir` must not be empty"),
            (Some("this is not toml"), vec![], "not valid TOML"),
            (None, vec![("REPRISE_IDENTITY__PLC_URL", "ftp://x")], "`identity.plc_url`"),
            (None, vec![("REPRISE_MEDIA__CONCURRENCY", "0")], "`media.concurrency`"),
            (None, vec![("REPRISE_MEDIA__MAX_ATTEMPTS", "0")], "`media.max_attempts`"),
            (None, vec![("REPRISE_MEDIA__TRANSCODER", "vlc")], "configuration `media`"),
            (None, vec![("REPRISE_STORAGE__BACKEND", "s3")], "`storage.s3.bucket` must be set"),
            (None, vec![("REPRISE_STORAGE__S3__PATH_STYLE", "maybe")], "must be true or false"),
            (Some("[storage.s3]\nbucket = 1\n"), vec![], "`storage.s3.bucket` must be a string"),
            (None, vec![("REPRISE_SNAPSHOTS__RETENTION", "-1")], "configuration `snapshots`"),
            (Some("[snapshots]\nevery = 5\n"), vec![], "unknown configuration key `snapshots.every`"),
            (
                None,
                vec![("REPRISE_BACKFILL__GAP_REPAIR_INTERVAL_SECS", "9999999")],
                "`backfill.gap_repair_interval_secs`",
            ),
            (None, vec![("REPRISE_BACKFILL__GAP_REPAIR_INTERVAL_SECS", "-5")], "configuration `backfill`"),
        ] {
            let got = err(file, &vars);
            assert!(got.contains(expected), "{file:?} {vars:?}\n  expected {expected:?}\n  got {got:?}");
        }
    }
}
