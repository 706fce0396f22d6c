//! Which SSRC carries which m-section of an SFU's offer: the subscriber's
//! tracks arrive by SSRC, the SFU says which feed each `mid` carries, and the
//! offer ties the two (RFC 8866 §5.14 m-lines, RFC 5576 `a=ssrc` and
//! `a=ssrc-group:FID` with the media SSRC first, RFC 8843 `a=mid`).

/// One m-section of a session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    /// `audio`, `video` or `application`.
    pub kind: String,
    /// Its `a=mid`, when it has one.
    pub mid: Option<String>,
    /// The SSRC of its media (not of its retransmissions), when it lists one.
    pub ssrc: Option<u32>,
}

/// The m-sections of `sdp`, in order.
pub(crate) fn sections(sdp: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if let Some(rest) = line.strip_prefix("m=") {
            let kind = rest.split(' ').next().unwrap_or_default().to_owned();
            out.push(Section {
                kind,
                mid: None,
                ssrc: None,
            });
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        if let Some(mid) = line.strip_prefix("a=mid:") {
            section.mid = Some(mid.trim().to_owned());
        } else if let Some(group) = line.strip_prefix("a=ssrc-group:FID ") {
            // The first SSRC of a FID group is the media's; the second its RTX.
            if let Some(primary) = group.split(' ').next().and_then(|s| s.parse().ok()) {
                section.ssrc = Some(primary);
            }
        } else if let Some(ssrc) = line.strip_prefix("a=ssrc:") {
            if section.ssrc.is_none() {
                section.ssrc = ssrc.split(' ').next().and_then(|s| s.parse().ok());
            }
        }
    }
    out
}

/// The `mid` of the m-section whose media SSRC is `ssrc`.
pub(crate) fn mid_of_ssrc(sections: &[Section], ssrc: u32) -> Option<&str> {
    sections
        .iter()
        .find(|s| s.ssrc == Some(ssrc))
        .and_then(|s| s.mid.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of a Janus 1.1 subscriber offer: two feeds' video with RTX,
    /// one audio.
    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=VideoRoom 1234\r\nt=0 0\r\n\
a=group:BUNDLE 0 1 2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\na=mid:0\r\na=sendonly\r\n\
a=ssrc-group:FID 2001 2002\r\na=ssrc:2001 cname:janus\r\na=ssrc:2002 cname:janus\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=sendonly\r\na=ssrc:3001 cname:janus\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\na=mid:2\r\na=sendonly\r\n\
a=ssrc:4002 cname:janus\r\na=ssrc-group:FID 4001 4002\r\na=ssrc:4001 cname:janus\r\n";

    #[test]
    fn each_ssrc_maps_to_its_mid_and_rtx_is_not_media() {
        let s = sections(OFFER);
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].kind, "audio");
        assert_eq!(mid_of_ssrc(&s, 2001), Some("0"));
        assert_eq!(mid_of_ssrc(&s, 3001), Some("1"));
        // The group names the media SSRC even when an RTX line comes first.
        assert_eq!(mid_of_ssrc(&s, 4001), Some("2"));
        assert_eq!(mid_of_ssrc(&s, 2002), None);
        assert_eq!(mid_of_ssrc(&s, 4002), None);
        assert_eq!(mid_of_ssrc(&s, 9), None);
    }
}
