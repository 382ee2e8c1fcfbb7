//! nginx running the shipped `deploy/nginx.conf`, rewritten for the test's ports and
//! temporary directory.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx's master must be asked to stop: SIGKILL would orphan its workers.
pub struct Nginx(Child);

impl From<Child> for Nginx {
    /// An nginx master started by the caller (with its own configuration).
    fn from(child: Child) -> Self {
        Nginx(child)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn binary() -> &'static str {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is required for this test (apt-get install nginx; .ci/run does)")
}

/// Starts nginx with the configuration `conf` (written to `tmp/nginx.conf`, `tmp` its
/// prefix) and waits until `ready` answers 200.
pub fn launch(tmp: &Path, conf: &str, ready: &str) -> Nginx {
    let conf_path = tmp.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write conf");
    let nginx = Nginx(
        Command::new(binary())
            .args(["-e", "stderr", "-p"])
            .arg(tmp)
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx"),
    );
    let started = Instant::now();
    while !reqwest::blocking::get(ready).is_ok_and(|r| r.status() == 200) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nginx
}

/// Starts nginx with `deploy/nginx.conf` in front of `backends` (two addresses), with
/// `extra` inserted into the server block; returns it and its port once it answers.
pub fn start(tmp: &Path, backends: [&str; 2], extra: &str) -> (Nginx, u16) {
    let port = free_port();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
            .expect("conf");
    let mut conf = shipped;
    for (from, to) in [
        ("127.0.0.1:8041", backends[0]),
        ("127.0.0.1:8042", backends[1]),
        ("127.0.0.1:8080", &format!("127.0.0.1:{port}")),
        (
            "/run/peerscope-nginx.pid",
            &tmp.join("nginx.pid").to_string_lossy(),
        ),
    ] {
        assert!(
            conf.contains(from),
            "deploy/nginx.conf no longer has {from}"
        );
        conf = conf.replace(from, to);
    }
    let temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .map(|t| format!("    {t}_temp_path {};\n", tmp.join(t).display()))
        .concat();
    conf = conf.replacen("http {\n", &format!("http {{\n{temps}"), 1);
    if !extra.is_empty() {
        conf = conf.replacen(
            "        client_max_body_size 1m;\n",
            &format!("        client_max_body_size 1m;\n{extra}\n"),
            1,
        );
    }
    if super::is_root() {
        conf = format!("user root;\n{conf}");
    }
    let nginx = launch(tmp, &conf, &format!("http://127.0.0.1:{port}/healthz"));
    (nginx, port)
}
