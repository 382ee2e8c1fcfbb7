//! IP location from MaxMind-format databases: City and ASN databases made for the test
//! by `tests/common/mmdb.rs` (a small writer of the MaxMind DB format), read with the
//! `maxminddb` crate behind the IP-location table. Coordinates land in the map's
//! district, AS numbers and organisations become ISP names through `[isp_names]`, the
//! table keeps precedence, and `report` uses the databases when they are configured.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use peerscope::engine::geography::Geography;
use peerscope::engine::geography::location::{IpGeo, IspNames};
use peerscope::engine::geography::maxmind::MaxMind;

mod common;
use common::mmdb;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn hong_kong() -> Arc<Geography> {
    Arc::new(
        Geography::load(
            &root().join("maps/hk-districts.geojson"),
            &root().join("maps/hk-outline.geojson"),
        )
        .expect("maps"),
    )
}

/// Coordinates well inside a district: its anchor point, in lat/lon.
fn inside(g: &Geography, district: &str) -> (f64, f64) {
    let d = g
        .districts
        .iter()
        .find(|d| d.name == district)
        .expect("district");
    (d.anchor.y, d.anchor.x / g.x_scale)
}

fn databases(g: &Geography) -> (Vec<u8>, Vec<u8>) {
    let (st_lat, st_lon) = inside(g, "Sha Tin");
    let (ea_lat, ea_lon) = inside(g, "Eastern");
    let city = mmdb::build(
        "GeoIP2-City",
        vec![
            (
                Ipv4Addr::new(203, 0, 113, 0),
                24,
                mmdb::city("Sha Tin", st_lat, st_lon),
            ),
            (
                Ipv4Addr::new(198, 51, 100, 0),
                25,
                mmdb::city("Chai Wan", ea_lat, ea_lon),
            ),
            (
                Ipv4Addr::new(192, 0, 2, 0),
                24,
                mmdb::city("London", 51.5, -0.12),
            ),
        ],
    );
    let asn = mmdb::build(
        "GeoLite2-ASN",
        vec![
            (
                Ipv4Addr::new(203, 0, 113, 0),
                24,
                mmdb::asn(4760, "PCCW IMS Limited"),
            ),
            (
                Ipv4Addr::new(198, 51, 100, 0),
                24,
                mmdb::asn(9269, "Hong Kong Broadband Network Ltd"),
            ),
            (
                Ipv4Addr::new(192, 0, 2, 0),
                24,
                mmdb::asn(64_500, "Example Transit"),
            ),
        ],
    );
    (city, asn)
}

fn names() -> IspNames {
    let mut n = IspNames::default();
    n.asn.insert("4760".into(), "PCCW".into());
    n.org.insert("broadband".into(), "HKBN".into());
    n
}

#[test]
fn databases_place_peers_the_table_does_not_cover() {
    let g = hong_kong();
    let (city, asn) = databases(&g);
    let db = MaxMind::from_bytes(Some(city), Some(asn)).expect("databases");
    let table = "cidr,isp,district,lat,lon\n203.0.113.128/25,HGC,Wan Chai,22.277,114.183\n";
    let mut geo = IpGeo::empty();
    geo.extend_from_csv(table).expect("table");
    let geo = geo.with_maxmind(db, &names(), Some(Arc::clone(&g)));
    let at = |ip: [u8; 4]| {
        let loc = geo.locate(IpAddr::V4(Ipv4Addr::from(ip)));
        (
            geo.isp_name(loc.isp).to_owned(),
            geo.district_name(loc.district).to_owned(),
            loc.lat_lon.is_some(),
        )
    };
    // By AS number, and coordinates inside Sha Tin.
    assert_eq!(
        at([203, 0, 113, 7]),
        ("PCCW".into(), "Sha Tin".into(), true)
    );
    // The table wins where it has the address.
    assert_eq!(
        at([203, 0, 113, 200]),
        ("HGC".into(), "Wan Chai".into(), true)
    );
    // By a word of the organisation; the City network is a /25, the ASN one a /24.
    assert_eq!(
        at([198, 51, 100, 9]),
        ("HKBN".into(), "Eastern".into(), true)
    );
    assert_eq!(
        at([198, 51, 100, 200]),
        ("HKBN".into(), "Unknown".into(), false)
    );
    // Coordinates off the map, and an ASN without a name: Others / Unknown.
    assert_eq!(
        at([192, 0, 2, 1]),
        ("Others".into(), "Unknown".into(), true)
    );
    // In no database at all.
    assert_eq!(
        at([10, 9, 8, 7]),
        ("Others".into(), "Unknown".into(), false)
    );
}

#[test]
fn report_uses_configured_databases() {
    let g = hong_kong();
    let (city, asn) = databases(&g);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (city_path, asn_path) = (tmp.path().join("city.mmdb"), tmp.path().join("asn.mmdb"));
    std::fs::write(&city_path, city).expect("city");
    std::fs::write(&asn_path, asn).expect("asn");
    // A recording of two peers at addresses only the databases know.
    let day = tmp.path().join("rec/feedback/20120807");
    std::fs::create_dir_all(&day).expect("dir");
    let line = |peer: &str, ip: &str| {
        format!(
            r#"{{"v":1,"peer":"{peer}","session":"s","seq":1,"ts":1,"event":"report","channel":"main","period_s":30,"up_kbps":800,"down_kbps":900,"server_kbps":100,"bitrate_kbps":420,"play_s":30,"stall_s":0,"startup_ms":null,"buffer_s":12,"partners":9,"nat":"cone","player":"x","os":"y","rtt_ms":33,"ip":"{ip}","recv":1344330000000,"srv":"fs1"}}"#
        )
    };
    std::fs::write(
        day.join("20120807-0900.jsonl"),
        format!(
            "{}\n{}\n",
            line("a", "203.0.113.7"),
            line("b", "198.51.100.9")
        ),
    )
    .expect("log");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .current_dir(root())
        .args([
            "report",
            &tmp.path().join("rec").to_string_lossy(),
            "--by",
            "isp",
            "--format",
            "csv",
        ])
        .args(["--set", &format!("maps.city_db={}", city_path.display())])
        .args(["--set", &format!("maps.asn_db={}", asn_path.display())])
        .args([
            "--set",
            "isp_names.asn.4760=PCCW",
            "--set",
            "isp_names.org.broadband=HKBN",
        ])
        .output()
        .expect("report");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PCCW,1,"), "{stdout}");
    assert!(stdout.contains("HKBN,1,"), "{stdout}");

    // A replay places the same peers on the map's districts (its map is built on a
    // thread of its own, and waited for at once when a city database needs it).
    let cache = tmp.path().join("cache");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peerscope"))
        .current_dir(root())
        .env("XDG_CACHE_HOME", &cache)
        .args(["replay", &tmp.path().join("rec").to_string_lossy()])
        .args(["--snapshot", "district", "--at", "2012-08-07 17:00"])
        .args(["--set", &format!("maps.city_db={}", city_path.display())])
        .args(["--set", &format!("maps.asn_db={}", asn_path.display())])
        .output()
        .expect("replay");
    let frame = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for district in ["Sha Tin", "Eastern"] {
        let row = frame
            .lines()
            .find(|l| l.contains(district))
            .unwrap_or_else(|| panic!("no {district} in\n{frame}"));
        assert!(row.contains(" 1 "), "{district}: {row}\n{frame}");
    }
}
