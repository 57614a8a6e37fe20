//! A real S3-compatible server for tests: `s3s-fs` on a free loopback port over a temporary directory,
//! killed when dropped. `scripts/test` installs it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reprise_store::S3Config;

pub const ACCESS_KEY: &str = "reprise-test-key";
pub const SECRET_KEY: &str = "reprise-test-secret";
pub const BUCKET: &str = "reprise-test";

pub struct S3sFs {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("s3s-fs"))
        .find(|p| p.is_file());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    on_path.or_else(|| cargo_home.map(|h| h.join("bin/s3s-fs")).filter(|p| p.is_file())).expect(
        "s3s-fs not found: run scripts/test, or `cargo install s3s-fs@0.14.1 --locked --features binary`",
    )
}

impl S3sFs {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join(BUCKET)).expect("bucket dir");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("s3s-fs exited before accepting connections: {status}");
            }
            assert!(Instant::now() < deadline, "s3s-fs did not accept connections within 20 s");
            std::thread::yield_now();
        }
        Self { child, addr, _dir: dir }
    }

    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: Some(format!("http://{}", self.addr)),
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            path_style: true,
            presign: false,
        }
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
