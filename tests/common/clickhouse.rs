//! A ClickHouse server of the test's own: Debian's `clickhouse-server` in a temporary
//! directory, on free loopback ports, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::nginx::free_port;

pub const BINARY: &str = "/usr/sbin/clickhouse-server";

pub struct ClickHouse {
    child: Option<Child>,
    dir: PathBuf,
    pub http_port: u16,
}

impl ClickHouse {
    /// Starts a server whose data lives under `dir`; `password` protects its one user,
    /// `default`, when given.
    pub fn start(dir: &Path, password: Option<&str>) -> ClickHouse {
        Self::start_with(dir, password, (free_port(), free_port()), "")
    }

    /// Two servers, each a shard of the cluster `peerscope_test` (in both configs).
    pub fn start_cluster(dirs: [&Path; 2]) -> [ClickHouse; 2] {
        let ports = [(free_port(), free_port()), (free_port(), free_port())];
        let shard = |tcp: u16| {
            format!("<shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>")
        };
        let cluster = format!(
            "<remote_servers><peerscope_test>{}{}</peerscope_test></remote_servers>",
            shard(ports[0].1),
            shard(ports[1].1)
        );
        [
            Self::start_with(dirs[0], None, ports[0], &cluster),
            Self::start_with(dirs[1], None, ports[1], &cluster),
        ]
    }

    /// A server on `(http_port, tcp_port)` with `extra` in its configuration.
    fn start_with(
        dir: &Path,
        password: Option<&str>,
        (http_port, tcp_port): (u16, u16),
        extra: &str,
    ) -> ClickHouse {
        super::require(
            Path::new(BINARY).exists(),
            "clickhouse-server (Debian package)",
        );
        std::fs::create_dir_all(dir).expect("clickhouse dir");
        let d = dir.display();
        std::fs::write(
            dir.join("config.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  {extra}
</yandex>
"#
            ),
        )
        .expect("config.xml");
        std::fs::write(
            dir.join("users.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default><password>{}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
  </users>
  <quotas><default></default></quotas>
</yandex>
"#,
                password.unwrap_or("")
            ),
        )
        .expect("users.xml");
        let mut ch = ClickHouse {
            child: None,
            dir: dir.to_owned(),
            http_port,
        };
        ch.restart();
        ch
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `clickhouse://127.0.0.1:PORT/DB`, the address `report --from` takes.
    pub fn uri(&self, db: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{db}", self.http_port)
    }

    /// Starts the server (again) and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(BINARY)
            .arg(format!(
                "--config-file={}",
                self.dir.join("config.xml").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clickhouse-server");
        self.child = Some(child);
        let started = Instant::now();
        let ping = format!("{}/ping", self.url());
        while !reqwest::blocking::get(&ping).is_ok_and(|r| r.status() == 200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "clickhouse-server did not come up; see {}/error.log",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (SIGTERM, as a service manager would) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            super::terminate(&mut child);
        }
    }

    /// Kills the server (SIGKILL, as the kernel's out-of-memory killer would: nothing
    /// running is let finish) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// One query's answer (TabSeparated), as the `default` user without a password.
    pub fn query(&self, sql: &str) -> String {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/", self.url()))
            .body(sql.to_owned())
            .send()
            .expect("query clickhouse");
        let status = resp.status();
        let text = resp.text().expect("answer");
        assert!(status.is_success(), "{sql}: {text}");
        text
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        self.stop();
    }
}
