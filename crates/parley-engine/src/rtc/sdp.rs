//! Plain-text SDP checks and fixes around webrtc-rs (docs/protocol.md §8.4).

use crate::{Error, Result};

/// The session-level line that declares what `a=msid` means (WebRTC media
/// streams), written as webrtc-rs writes it in its answers.
pub const MSID_SEMANTIC_LINE: &str = "a=msid-semantic:WMS *";

/// `sdp` with [`MSID_SEMANTIC_LINE`] at session level, just before the first
/// `m=` line, unless it already has an `a=msid-semantic` line.
///
/// webrtc-rs 0.21.1 writes it in answers but not in offers, and other stacks then
/// give our tracks random ids instead of `camera`, `microphone` and `screen`.
/// webrtc-rs refuses a local description that differs from the one it made
/// (`ErrSDPDoesNotMatchOffer`), so only the text we send and sign gets the line;
/// webrtc-rs never reads it from its own description.
pub fn with_msid_semantic(sdp: &str) -> String {
    if sdp.lines().any(|l| l.starts_with("a=msid-semantic")) {
        return sdp.to_owned();
    }
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let line = format!("{MSID_SEMANTIC_LINE}{eol}");
    let first_media = if sdp.starts_with("m=") {
        Some(0)
    } else {
        sdp.find("\nm=").map(|i| i + 1)
    };
    match first_media {
        Some(at) => format!("{}{line}{}", &sdp[..at], &sdp[at..]),
        None if sdp.is_empty() || sdp.ends_with('\n') => format!("{sdp}{line}"),
        None => format!("{sdp}{eol}{line}"),
    }
}

/// What a section of `media` needs: its kind, the `rtpmap` encoding name of our
/// codec (compared without case, RFC 4855 §3) and the codec's name in messages.
/// Our codecs are registered in `peer.rs` (`codecs()`).
fn our_codec(media: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match media {
        "video" => Some(("video", "H264", "H.264")),
        "audio" => Some(("audio", "opus", "Opus")),
        _ => None,
    }
}

/// Checks that every audio and video section of a remote offer lists our codec
/// (H.264 for video, Opus for audio): we send on every one of them (§8.4), and
/// webrtc-rs cannot build an answer otherwise ("RTPSender created with no
/// codecs"). Other sections (the data channels) are not looked at.
///
/// Errors: [`Error::UnsupportedCodecs`] for the first section without our codec,
/// naming the codecs it offered.
pub fn check_offered_codecs(offer: &str) -> Result<()> {
    // (media of the m= line, encoding names of its rtpmap lines, whether the
    // section is rejected: port 0 without a=bundle-only, RFC 8829 §5.2.2)
    let mut sections: Vec<(&str, Vec<&str>, bool)> = Vec::new();
    for line in offer.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.split(' ');
            let media = parts.next().unwrap_or("");
            let port_zero = parts.next() == Some("0");
            sections.push((media, Vec::new(), port_zero));
        } else if line == "a=bundle-only" {
            if let Some(section) = sections.last_mut() {
                section.2 = false;
            }
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            // "<payload type> <encoding name>/<clock rate>[/<channels>]"
            let name = map
                .split_whitespace()
                .nth(1)
                .and_then(|e| e.split('/').next());
            if let (Some((_, names, _)), Some(name)) = (sections.last_mut(), name) {
                names.push(name);
            }
        }
    }
    for (media, names, rejected) in &sections {
        let Some((kind, ours, needed)) = our_codec(media) else {
            continue;
        };
        if *rejected {
            // A stopped or rejected section carries no media either way.
            continue;
        }
        if names.iter().any(|n| n.eq_ignore_ascii_case(ours)) {
            continue;
        }
        let mut offered: Vec<&str> = Vec::new();
        for &n in names {
            // Retransmission formats (RFC 4588) are no codec of their own.
            if n.eq_ignore_ascii_case("rtx") || offered.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                continue;
            }
            offered.push(n);
        }
        return Err(Error::UnsupportedCodecs {
            kind,
            offered: if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            },
            needed,
        });
    }
    Ok(())
}

/// The ICE username fragment and password of a description (RFC 8839 §5.4,
/// `a=ice-ufrag` and `a=ice-pwd`): the first of each, at session or media level
/// (with BUNDLE every section carries the same); `None` when either is missing.
/// An ICE restart changes both (RFC 8445 §9).
pub(crate) fn ice_credentials(sdp: &str) -> Option<(&str, &str)> {
    Some((
        attribute(sdp, "a=ice-ufrag:")?,
        attribute(sdp, "a=ice-pwd:")?,
    ))
}

/// The value of the first line of `sdp` that starts with `prefix`, trimmed.
fn attribute<'a>(sdp: &'a str, prefix: &str) -> Option<&'a str> {
    sdp.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::{check_offered_codecs, ice_credentials, with_msid_semantic};
    use crate::Error;

    const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n";

    fn offer(sections: &str) -> String {
        format!("{HEAD}{sections}")
    }

    const PARLEY_VIDEO: &str = "m=video 9 UDP/TLS/RTP/SAVPF 102\r\n\
        a=rtpmap:102 H264/90000\r\n\
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";
    const PARLEY_AUDIO: &str = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
    const VP8_ONLY: &str = "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n";
    const DATA: &str = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n";

    #[test]
    fn msid_semantic_goes_before_the_first_media_section_once() {
        let sdp = offer(&format!("{PARLEY_VIDEO}{PARLEY_AUDIO}"));
        let out = with_msid_semantic(&sdp);
        let expected = format!("{HEAD}a=msid-semantic:WMS *\r\n{PARLEY_VIDEO}{PARLEY_AUDIO}");
        assert_eq!(out, expected);
        assert_eq!(with_msid_semantic(&out), out, "added twice");
        let chrome = sdp.replace("a=group", "a=msid-semantic: WMS\r\na=group");
        assert_eq!(with_msid_semantic(&chrome), chrome);
        // No media section: at the end, with the text's own line ends.
        assert_eq!(
            with_msid_semantic("v=0\ns=-\n"),
            "v=0\ns=-\na=msid-semantic:WMS *\n"
        );
    }

    #[test]
    fn offers_with_our_codecs_pass() {
        let sdp = offer(&format!("{PARLEY_VIDEO}{PARLEY_AUDIO}{PARLEY_VIDEO}{DATA}"));
        check_offered_codecs(&sdp).unwrap();
        // Case does not matter in encoding names; data-only offers have nothing to check.
        check_offered_codecs(&offer(&PARLEY_AUDIO.replace("opus", "OPUS"))).unwrap();
        check_offered_codecs(&offer(DATA)).unwrap();
    }

    #[test]
    fn a_vp8_only_offer_is_refused_with_what_it_offered() {
        let sdp = offer(&format!("{VP8_ONLY}{PARLEY_AUDIO}{DATA}"));
        let err = check_offered_codecs(&sdp).unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedCodecs { kind: "video", offered, needed: "H.264" } if offered == "VP8"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the caller offered no video codec Parley supports (offered: VP8); Parley needs H.264"
        );
    }

    #[test]
    fn every_media_section_needs_our_codec() {
        // The screen section (the second video) offers VP8 and VP9 only.
        let screen = VP8_ONLY.replace("96 97", "96 98") + "a=rtpmap:98 VP9/90000\r\n";
        let sdp = offer(&format!("{PARLEY_VIDEO}{PARLEY_AUDIO}{screen}"));
        let err = check_offered_codecs(&sdp).unwrap_err().to_string();
        assert!(err.contains("(offered: VP8, VP9)"), "{err}");
        // Audio without Opus, and a section without any rtpmap.
        let pcmu = "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let err = check_offered_codecs(&offer(pcmu)).unwrap_err().to_string();
        assert!(
            err.contains("no audio codec") && err.contains("needs Opus"),
            "{err}"
        );
        let bare = "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n";
        let err = check_offered_codecs(&offer(bare)).unwrap_err().to_string();
        assert!(err.contains("(offered: none)"), "{err}");
    }

    #[test]
    fn rejected_sections_are_not_checked_but_bundle_only_ones_are() {
        let rejected = VP8_ONLY.replace("m=video 9 ", "m=video 0 ");
        let sdp = offer(&format!("{PARLEY_VIDEO}{PARLEY_AUDIO}{rejected}"));
        assert!(check_offered_codecs(&sdp).is_ok());
        let bundle_only = rejected + "a=bundle-only\r\n";
        let sdp = offer(&format!("{PARLEY_VIDEO}{PARLEY_AUDIO}{bundle_only}"));
        assert!(check_offered_codecs(&sdp).is_err());
    }

    #[test]
    fn ice_credentials_are_the_first_ufrag_and_pwd() {
        let sdp = offer(&format!(
            "{PARLEY_VIDEO}a=ice-ufrag:abcd\r\na=ice-pwd:secret-pwd\r\n\
             {PARLEY_AUDIO}a=ice-ufrag:abcd\r\na=ice-pwd:secret-pwd\r\n"
        ));
        assert_eq!(ice_credentials(&sdp), Some(("abcd", "secret-pwd")));
        assert_eq!(ice_credentials(&offer(PARLEY_VIDEO)), None);
        assert_eq!(
            ice_credentials("a=ice-ufrag:x\na=ice-pwd:y\n"),
            Some(("x", "y"))
        );
    }
}
