//! Received file names: sanitising and collision-free naming.

use std::path::{Component, Path, PathBuf};

use super::TransferError;

/// Longest sanitised name, bytes of UTF-8 (leaves room for ` (n)` and our
/// `.…parley-part.json` temp names under the usual 255-byte limit).
pub const MAX_NAME_BYTES: usize = 200;

/// Longest raw name accepted from a peer, bytes; longer offers are refused.
pub const MAX_RAW_NAME_BYTES: usize = 4096;

/// Longest extension kept when a long name is truncated, bytes (without the dot).
const MAX_KEPT_EXTENSION_BYTES: usize = 16;

/// Turns a name received from a peer into a single, harmless file-name component:
///
/// - only the last component of a `/` or `\` separated path is kept;
/// - control chars (NUL included) and bidirectional-override chars are removed;
///   `<>:"/\|?*` become `_`;
/// - leading dots and spaces (hidden files, `..`) and trailing dots and spaces
///   (ignored by Windows) are trimmed;
/// - Windows device names (`CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`,
///   `LPT1`–`LPT9`, with any extension) get a `_` prefix;
/// - the result is cut to [`MAX_NAME_BYTES`] on a char boundary, keeping a short
///   extension;
/// - an empty result becomes `file`.
///
/// Errors: [`TransferError::UnsafeName`] if `raw` is longer than
/// [`MAX_RAW_NAME_BYTES`].
pub fn sanitize_file_name(raw: &str) -> Result<String, TransferError> {
    if raw.len() > MAX_RAW_NAME_BYTES {
        return Err(TransferError::UnsafeName {
            name: raw.chars().take(100).collect(),
            reason: format!("longer than {MAX_RAW_NAME_BYTES} bytes"),
        });
    }
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|&c| !c.is_control() && !is_bidi_control(c))
        .map(|c| if "<>:\"/\\|?*".contains(c) { '_' } else { c })
        .collect();
    let mut name = trim_dots_and_spaces(&cleaned).to_owned();
    if is_windows_device_name(&name) {
        name.insert(0, '_');
    }
    if name.len() > MAX_NAME_BYTES {
        name = truncate_keeping_extension(&name, MAX_NAME_BYTES);
    }
    if name.is_empty() {
        name.push_str("file");
    }
    Ok(name)
}

/// Deepest folder nesting kept from an offered path, folders; a deeper path is
/// reduced to its last component.
pub const MAX_FOLDER_DEPTH: usize = 32;

/// An offered name split into the folders it goes in and its file name
/// (docs/protocol.md §8.3, "Folders"). Every part is one sanitised file-name
/// component, so the whole stays inside the receive folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelativeName {
    /// Folders under the receive folder, outermost first.
    pub folders: Vec<String>,
    /// The file name; `None` for a folder on its own (an offered name ending
    /// with `/`: an empty folder).
    pub file: Option<String>,
}

impl RelativeName {
    /// As shown to the user: the parts joined with `/`; a folder on its own
    /// ends with `/`.
    pub fn display(&self) -> String {
        let mut parts = self.folders.clone();
        match &self.file {
            Some(file) => parts.push(file.clone()),
            None => parts.push(String::new()),
        }
        parts.join("/")
    }

    /// The folder it goes in under `root`.
    pub fn dir(&self, root: &Path) -> PathBuf {
        self.folders
            .iter()
            .fold(root.to_path_buf(), |d, f| d.join(f))
    }
}

/// Splits a name received from a peer into folders and a file name. A clean
/// relative path (`/`-separated; no empty, `.` or `..` component; no `\`; not
/// starting with `/` or holding a `:` in its first component; at most
/// [`MAX_FOLDER_DEPTH`] folders) keeps its folders, each sanitised like a file
/// name by [`sanitize_file_name`]; anything else is reduced to its last
/// component by [`sanitize_file_name`], as before folders travelled.
///
/// Errors: as [`sanitize_file_name`].
pub fn sanitize_relative_name(raw: &str) -> Result<RelativeName, TransferError> {
    let flat = |raw: &str| -> Result<RelativeName, TransferError> {
        Ok(RelativeName {
            folders: Vec::new(),
            file: Some(sanitize_file_name(raw)?),
        })
    };
    if raw.len() > MAX_RAW_NAME_BYTES {
        return flat(raw);
    }
    let folder_only = raw.ends_with('/');
    let parts: Vec<&str> = raw.strip_suffix('/').unwrap_or(raw).split('/').collect();
    let clean = !raw.starts_with('/')
        && !raw.contains('\\')
        && !parts[0].contains(':')
        && parts.len() <= MAX_FOLDER_DEPTH + usize::from(!folder_only)
        && parts
            .iter()
            .all(|p| !p.is_empty() && *p != "." && *p != "..");
    if !clean || (parts.len() == 1 && !folder_only) {
        return flat(raw);
    }
    let mut folders = parts
        .iter()
        .map(|p| sanitize_file_name(p))
        .collect::<Result<Vec<_>, _>>()?;
    let file = if folder_only { None } else { folders.pop() };
    Ok(RelativeName { folders, file })
}

fn trim_dots_and_spaces(s: &str) -> &str {
    s.trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
}

/// Bidirectional formatting chars (U+200E/F, U+202A–E, U+2066–9) let a name like
/// `invoice\u{202E}fdp.exe` display as `invoiceexe.pdf`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let b = upper.as_bytes();
            b.len() == 4
                && (upper.starts_with("COM") || upper.starts_with("LPT"))
                && (b'1'..=b'9').contains(&b[3])
        }
    }
}

/// Cuts `name` to at most `max` bytes on a char boundary, keeping its extension
/// when it is short.
fn truncate_keeping_extension(name: &str, max: usize) -> String {
    let (stem, ext) = split_extension(name);
    let ext = ext.filter(|e| e.len() <= MAX_KEPT_EXTENSION_BYTES);
    let ext_len = ext.map_or(0, |e| e.len() + 1);
    let stem = if ext.is_some() { stem } else { name };
    let mut end = max.saturating_sub(ext_len).min(stem.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    let stem = stem[..end].trim_end_matches(['.', ' ']);
    match ext {
        Some(ext) if !stem.is_empty() => format!("{stem}.{ext}"),
        _ => stem.to_owned(),
    }
}

/// Splits `name` at its last dot into stem and extension; names without a dot,
/// or whose only dot is the first char, have no extension.
fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    }
}

/// The `n`-th candidate for saving `name`: `name` itself for 0, then
/// `stem (n).ext` (`photo.jpg` → `photo (1).jpg`, `README` → `README (1)`).
pub fn unique_name_candidate(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    match split_extension(name) {
        (stem, Some(ext)) => format!("{stem} ({n}).{ext}"),
        (stem, None) => format!("{stem} ({n})"),
    }
}

/// `dir/name` after checking that `name` is exactly one normal path component, so
/// the result cannot leave `dir`.
///
/// Errors: [`TransferError::UnsafeName`] otherwise (a bug in the sanitiser).
pub(crate) fn confined(dir: &Path, name: &str) -> Result<PathBuf, TransferError> {
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(c)), None) if c == name => Ok(dir.join(name)),
        _ => Err(TransferError::UnsafeName {
            name: name.chars().take(100).collect(),
            reason: "not a single file-name component".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: &str) -> String {
        sanitize_file_name(raw).unwrap()
    }

    #[test]
    fn paths_are_reduced_to_their_last_component() {
        assert_eq!(s("../../etc/x"), "x");
        assert_eq!(s("/etc/passwd"), "passwd");
        assert_eq!(s("C:\\Windows\\evil.exe"), "evil.exe");
        assert_eq!(s("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(s("dir/"), "file");
        assert_eq!(s(".."), "file");
        assert_eq!(s("..."), "file");
        assert_eq!(s(""), "file");
        assert_eq!(s("."), "file");
    }

    #[test]
    fn hidden_control_and_reserved_chars_are_removed() {
        assert_eq!(s(".bashrc"), "bashrc");
        assert_eq!(s("..hidden."), "hidden");
        assert_eq!(s("  name.txt . "), "name.txt");
        assert_eq!(s("a\0b\nc\u{7f}.txt"), "abc.txt");
        assert_eq!(s("a<b>c:d\"e|f?g*h.txt"), "a_b_c_d_e_f_g_h.txt");
        assert_eq!(s("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
    }

    #[test]
    fn windows_device_names_are_prefixed() {
        assert_eq!(s("CON.txt"), "_CON.txt");
        assert_eq!(s("con"), "_con");
        assert_eq!(s("nul.tar.gz"), "_nul.tar.gz");
        assert_eq!(s("COM1"), "_COM1");
        assert_eq!(s("lpt9.log"), "_lpt9.log");
        assert_eq!(s("COM0"), "COM0");
        assert_eq!(s("CONSOLE.txt"), "CONSOLE.txt");
        assert_eq!(s("aux .txt"), "_aux .txt");
    }

    #[test]
    fn long_names_keep_their_extension_on_a_char_boundary() {
        let long = format!("{}.pdf", "a".repeat(500));
        let out = s(&long);
        assert_eq!(out.len(), MAX_NAME_BYTES);
        assert!(out.ends_with("a.pdf"));

        let unicode = format!("{}.txt", "é".repeat(300)); // 2 bytes each
        let out = s(&unicode);
        assert!(out.len() <= MAX_NAME_BYTES);
        assert!(out.ends_with("é.txt"));

        let no_ext = "日本".repeat(100); // 3 bytes each
        let out = s(&no_ext);
        assert!(out.len() <= MAX_NAME_BYTES && out.len() > MAX_NAME_BYTES - 3);

        let long_ext = format!("x.{}", "y".repeat(300));
        assert!(s(&long_ext).len() <= MAX_NAME_BYTES);

        assert!(sanitize_file_name(&"a".repeat(MAX_RAW_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn clean_relative_paths_keep_their_folders() {
        let r = |raw: &str| sanitize_relative_name(raw).unwrap();
        let kept = r("photos/2024/.trip/CON.jpg");
        assert_eq!(kept.folders, ["photos", "2024", "trip"]);
        assert_eq!(kept.file.as_deref(), Some("_CON.jpg"));
        assert_eq!(kept.display(), "photos/2024/trip/_CON.jpg");
        assert_eq!(kept.dir(Path::new("/r")), Path::new("/r/photos/2024/trip"));
        let empty = r("photos/empty/");
        assert_eq!(empty.folders, ["photos", "empty"]);
        assert_eq!(empty.file, None);
        assert_eq!(empty.display(), "photos/empty/");
        assert_eq!(r("a\u{7}b/c").folders, ["ab"]);
        // Anything hostile or odd is flattened to its last component.
        for (raw, file) in [
            ("../../etc/x", "x"),
            ("/etc/passwd", "passwd"),
            ("a/../../b", "b"),
            ("a/./b", "b"),
            ("a//b", "b"),
            ("C:/x/y", "y"),
            ("C:\\Windows\\evil.exe", "evil.exe"),
            ("plain.txt", "plain.txt"),
            ("/", "file"),
        ] {
            let got = r(raw);
            assert!(got.folders.is_empty(), "{raw:?}: {got:?}");
            assert_eq!(got.file.as_deref(), Some(file), "{raw:?}");
        }
        let deep = format!("{}f", "d/".repeat(MAX_FOLDER_DEPTH));
        assert_eq!(r(&deep).folders.len(), MAX_FOLDER_DEPTH);
        let deeper = format!("{}f", "d/".repeat(MAX_FOLDER_DEPTH + 1));
        assert_eq!(r(&deeper).folders.len(), 0);
        for name in r(&deep).folders {
            assert!(confined(Path::new("/r"), &name).is_ok());
        }
    }

    #[test]
    fn unicode_is_kept() {
        assert_eq!(s("Ünïcödé 文件 📄.txt"), "Ünïcödé 文件 📄.txt");
    }

    #[test]
    fn candidates_and_confinement() {
        assert_eq!(unique_name_candidate("a.jpg", 0), "a.jpg");
        assert_eq!(unique_name_candidate("a.jpg", 1), "a (1).jpg");
        assert_eq!(unique_name_candidate("a.tar.gz", 2), "a.tar (2).gz");
        assert_eq!(unique_name_candidate("README", 3), "README (3)");
        let dir = Path::new("/tmp/recv");
        assert_eq!(confined(dir, "x.txt").unwrap(), dir.join("x.txt"));
        for bad in ["..", "a/b", "/etc", ".", ""] {
            assert!(confined(dir, bad).is_err(), "{bad:?}");
        }
        for raw in ["../../x", "/etc/passwd", "..", "a\\..\\..\\b", "C:x"] {
            assert!(confined(dir, &s(raw)).is_ok(), "{raw:?}");
        }
    }
}
