//! The deployment files of `scripts/deploy/`, run by what runs them in
//! production: the nginx configuration in Debian's nginx, in front of a
//! real cpor-server, over TLS on loopback.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{repo_root, server_addr, Data, Server};

/// nginx, stopped when dropped.
struct Nginx(Child);

impl Drop for Nginx {
    /// SIGTERM (fast shutdown) to the master, which stops its workers: a
    /// SIGKILLed master leaves them listening.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1 (bound and let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `scripts/deploy/nginx-cpor.conf` as shipped, but for what a test
/// machine must change: its one upstream is `upstream`, it listens on
/// 127.0.0.1:`port` for HTTPS (with the shipped listen options) and
/// 127.0.0.1:`plain` for HTTP, with a certificate and a log of `dir`.
fn shipped_config(dir: &Path, upstream: &str, port: u16, plain: u16) -> String {
    let shipped = std::fs::read_to_string(repo_root().join("scripts/deploy/nginx-cpor.conf"))
        .expect("the shipped nginx configuration");
    let mut upstreams = 0;
    let mut out = String::new();
    for line in shipped.lines() {
        let t = line.trim_start();
        let line = if t.starts_with("server 127.0.0.1:") {
            upstreams += 1;
            if upstreams > 1 {
                continue;
            }
            format!("    server {upstream} max_fails=1 fail_timeout=5s;")
        } else if t.starts_with("listen [::]:") {
            continue;
        } else if let Some(rest) = t.strip_prefix("listen 443 ") {
            format!("    listen 127.0.0.1:{port} {rest}")
        } else if t == "listen 80;" {
            format!("    listen 127.0.0.1:{plain};")
        } else {
            line.replace(
                "/etc/ssl/cpor/fullchain.pem",
                &dir.join("cert.pem").display().to_string(),
            )
            .replace(
                "/etc/ssl/cpor/privkey.pem",
                &dir.join("key.pem").display().to_string(),
            )
            .replace(
                "/var/log/nginx/cpor.access.log",
                &dir.join("access.log").display().to_string(),
            )
        };
        out.push_str(&line);
        out.push('\n');
    }
    assert!(
        upstreams > 0
            && out.contains(&format!("listen 127.0.0.1:{port} ssl"))
            && out.contains(&format!("listen 127.0.0.1:{plain};")),
        "{out}"
    );
    out
}

/// A GET over TLS (the test's certificate is self-signed): the status;
/// on failure, what went wrong and nginx's error log (in `dir`).
fn https_status(url: &str, dir: &Path) -> u16 {
    let out = Command::new(crate::python::python())
        .args([
            "-c",
            "import ssl, sys, urllib.request, urllib.error\n\
             ctx = ssl._create_unverified_context()\n\
             try:\n    print(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10).status)\n\
             except urllib.error.HTTPError as e:\n    print(e.code)\n",
            url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GET {url}: {}\nnginx's error log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The nginx configuration operators install loads in Debian's nginx (the
/// `http2 on;` directive of nginx 1.25 stopped Debian 12's 1.22 from
/// starting), serves the site over TLS, and its access log names a
/// calendar feed's route but never its token, the feed's only credential.
#[test]
fn the_shipped_nginx_config_runs_in_debians_nginx_and_logs_no_feed_token() {
    let nginx = Path::new("/usr/sbin/nginx");
    assert!(
        nginx.exists(),
        "Debian's nginx: run scripts/setup-test-deps"
    );
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let dir = tempfile::tempdir().unwrap();
    let key = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .output()
        .expect("openssl: run scripts/setup-test-deps");
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let (port, plain) = (free_port(), free_port());
    let p = dir.path().display().to_string();
    std::fs::write(
        dir.path().join("cpor.conf"),
        shipped_config(dir.path(), &server_addr(&server).to_string(), port, plain),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "pid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{}}\nhttp {{\n\
             client_body_temp_path {p}/body;\nproxy_temp_path {p}/proxy;\n\
             fastcgi_temp_path {p}/fastcgi;\nuwsgi_temp_path {p}/uwsgi;\n\
             scgi_temp_path {p}/scgi;\ninclude {p}/cpor.conf;\n}}\n"
        ),
    )
    .unwrap();
    let conf = dir.path().join("nginx.conf");
    let checked = Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let _nginx = Nginx(
        Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let base = format!("https://127.0.0.1:{port}");
    assert_eq!(https_status(&format!("{base}/login"), dir.path()), 200);
    let token = "5a".repeat(32);
    assert_eq!(
        https_status(&format!("{base}/calendar/{token}.ics"), dir.path()),
        404
    );
    let log = std::fs::read_to_string(dir.path().join("access.log")).unwrap();
    assert!(log.contains("GET /login "), "{log}");
    assert!(log.contains("GET /calendar/<token>.ics "), "{log}");
    assert!(
        !log.contains(&token),
        "the feed's token in the access log:\n{log}"
    );
}
