//! What every subcommand shares at its edge: the usage error that exits with status 2
//! (a bad flag value, nothing to work on), as opposed to a failure while working (1).

/// A usage error: bad flag value or nothing to work on (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A secret (a read token, a password) from a file only its owner can read: the file's
/// one line, without its line end. `what` names the file in errors ("token file").
pub fn secret_from_file(path: &std::path::Path, what: &str) -> Result<String, UsageError> {
    use std::os::unix::fs::PermissionsExt;
    let cannot =
        |e: std::io::Error| UsageError(format!("cannot read {what} {}: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(UsageError(format!(
            "{what} {} is readable by others (mode {:o}); chmod 600 it",
            path.display(),
            meta.permissions().mode() & 0o777
        )));
    }
    let text = std::fs::read_to_string(path).map_err(cannot)?;
    let secret = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    if secret.is_empty() {
        return Err(UsageError(format!("{what} {} is empty", path.display())));
    }
    let lines = text.lines().count();
    if lines > 1 {
        return Err(UsageError(format!(
            "{what} {} holds {lines} lines; it must hold one line alone",
            path.display()
        )));
    }
    Ok(secret.to_owned())
}
