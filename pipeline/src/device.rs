//! User-agent parsing.
//!
//! `woothee` is used: a pure-Rust parser with no data file to load, so it
//! adds nothing to a Lambda cold start and parses a user agent in about a
//! microsecond. uap-based parsers are richer but compile about a thousand
//! regular expressions at start (hundreds of milliseconds); this module is
//! the one place to change if that trade-off changes.

use woothee::parser::Parser;

/// What the user agent says about the device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    /// pc, smartphone, mobilephone, appliance, crawler.
    pub device_type: Option<String>,
}

fn known(s: &str) -> Option<String> {
    (!s.is_empty() && s != "UNKNOWN").then(|| s.to_string())
}

/// Parses a user agent; unknown parts are `None`.
pub fn parse_user_agent(ua: &str) -> DeviceInfo {
    // Parser is a unit struct: constructing it costs nothing.
    match Parser::new().parse(ua) {
        Some(r) => DeviceInfo {
            browser: known(r.name),
            browser_version: known(r.version),
            os: known(r.os),
            os_version: known(&r.os_version),
            device_type: known(r.category),
        },
        None => DeviceInfo::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_and_mobile_agents() {
        let d = parse_user_agent(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        );
        assert_eq!(d.browser.as_deref(), Some("Chrome"));
        assert_eq!(d.browser_version.as_deref(), Some("131.0.0.0"));
        assert_eq!(d.os.as_deref(), Some("Windows 10"));
        assert_eq!(d.device_type.as_deref(), Some("pc"));
        let m = parse_user_agent(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(m.os.as_deref(), Some("iPhone"));
        assert_eq!(m.device_type.as_deref(), Some("smartphone"));
    }

    #[test]
    fn garbage_is_unknown_not_an_error() {
        assert_eq!(parse_user_agent(""), DeviceInfo::default());
        let d = parse_user_agent("\u{0}\u{ffff} totally not a browser");
        assert_eq!(d.browser, None);
    }
}
