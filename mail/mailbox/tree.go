package mailbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tree finds the files Walk reads.
type tree struct {
	visit func(path string, size int64) error
	fail  func(path string, err error) error
}

// eachFile calls visit for every file Walk reads under paths, in Walk's order, and fail for what
// cannot be listed; either stops the traversal by returning an error.
func eachFile(paths []string, visit func(path string, size int64) error, fail func(path string, err error) error) error {
	t := tree{visit: visit, fail: fail}
	for _, path := range paths {
		info, err := stat(path)
		switch {
		case err != nil:
			err = fail(path, err)
		case info.IsDir():
			err = t.dir(path)
		case info.Mode().IsRegular():
			err = visit(path, info.Size())
		default:
			err = fail(path, fmt.Errorf("%s is neither a regular file nor a directory", path))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t tree) dir(dir string) error {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return t.fail(dir, err)
	}
	maildir := isMaildir(dir)
	for _, entry := range entries {
		name := entry.Name()
		path := filepath.Join(dir, name)
		info, err := stat(path)
		switch {
		case err != nil:
			err = t.fail(path, err)
		case info.IsDir():
			// Symbolic links to directories are not followed: they can make loops.
			if entry.Type()&fs.ModeSymlink == 0 && walkInto(path, name, maildir) {
				err = t.dir(path)
			}
		case info.Mode().IsRegular() && !maildir && !ignoredFile(name):
			err = t.visit(path, info.Size())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errBrokenSymlink is the error of a symbolic link whose target does not exist.
var errBrokenSymlink = errors.New("broken symbolic link: its target does not exist")

// stat is os.Stat, telling a symbolic link whose target is gone (errBrokenSymlink) from a path
// that cannot be read.
func stat(path string) (fs.FileInfo, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if link, lerr := os.Lstat(path); lerr == nil && link.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			return nil, fmt.Errorf("%s -> %s: %w", path, target, errBrokenSymlink)
		}
	}
	return info, err
}

// isMaildir reports whether dir has the cur and new subdirectories of a Maildir.
func isMaildir(dir string) bool {
	cur, err := os.Stat(filepath.Join(dir, "cur"))
	if err != nil || !cur.IsDir() {
		return false
	}
	msgs, err := os.Stat(filepath.Join(dir, "new"))
	return err == nil && msgs.IsDir()
}

// walkInto reports whether a subdirectory is walked: not a Maildir's tmp, whose messages are
// still being delivered, and hidden ones only when they are Maildir++ folders of a Maildir.
func walkInto(path, name string, inMaildir bool) bool {
	if strings.HasPrefix(name, ".") {
		return inMaildir && isMaildir(path)
	}
	return !inMaildir || name != "tmp"
}

// ignoredFile reports whether a file is known not to hold mail: hidden files (.DS_Store) and the
// index files of Dovecot, Courier and Thunderbird.
func ignoredFile(name string) bool {
	return strings.HasPrefix(name, ".") ||
		strings.HasPrefix(name, "dovecot") ||
		strings.HasPrefix(name, "courier") ||
		strings.HasSuffix(name, ".msf") ||
		name == "maildirfolder" || name == "subscriptions"
}
