#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""One-off conversion of the old repository layout into patches/linux/.

The old layout: a new file stands at its kernel path, a change to an upstream
file stands beside it as <path>.patch.  This script computes the final tree
(base + every .patch + every new file), cuts the difference between base and
that tree into zero-context hunks (`git diff -U0`), and hands every hunk to
exactly one logical patch of the split description
(harness/convert-split-linux.py).  Each step of the series is base plus the
hunks of the patches so far, with the "before" substitutions of later patches
undone (they let one patch change a line that an earlier patch introduced).
The steps are committed in build/linux (branch "converted") and written out
with `git format-patch`, like `make patches` does.

    harness/convert-to-series.py [--split FILE] [--out DIR] [--keep-old]
                                 [--from REV] [--list]

A hunk that no rule claims, a hunk that two rules claim, a rule that claims
nothing and a "before" text that is never found are errors, with the file,
the hunk and the patch named.  The last step must equal the final tree.
Unless --keep-old, the old .patch files and new files are removed from the
repository (git rm) once the series is written.
"""
import argparse
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINUX = os.path.join(TOP, "build", "linux")
KDIRS = ("arch block Documentation drivers fs include init ipc kernel lib mm "
         "samples scripts security tools virt").split()
IDENT = {
    "GIT_AUTHOR_NAME": "kvm-hugetlb-private build",
    "GIT_AUTHOR_EMAIL": "build@localhost",
    "GIT_COMMITTER_NAME": "kvm-hugetlb-private build",
    "GIT_COMMITTER_EMAIL": "build@localhost",
    "GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "1970-01-01T00:00:00Z",
}


def die(msg):
    sys.stderr.write("convert: error: " + msg + "\n")
    sys.exit(1)


def git(*args, inp=None, env=None, cwd=LINUX):
    e = dict(os.environ)
    e.update(IDENT)
    if env:
        e.update(env)
    r = subprocess.run(["git", "-C", cwd] + list(args), input=inp,
                       capture_output=True, env=e)
    if r.returncode:
        die("git %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout


class Patch:
    def __init__(self, subject, take, body, before=(), section=None):
        self.subject = subject
        self.take = list(take)
        self.body = body.strip("\n")
        self.before = list(before)
        self.section = section


class Hunk:
    def __init__(self, path, old_start, old_len, new_lines, text):
        self.path = path
        self.old_start = old_start      # 1-based first replaced base line
        self.old_len = old_len
        self.new_lines = new_lines      # lines (with \n) that replace them
        self.text = text                # the hunk as git printed it
        self.owner = None

    def where(self):
        head = self.text.splitlines()[0]
        body = [l for l in self.text.splitlines()[1:] if l[:1] in "+-"][:6]
        return "%s: %s\n      %s" % (self.path, head, "\n      ".join(body))


def old_layout(rev=None):
    """(.patch files, new files), paths relative to TOP: in the work tree,
    or in commit @rev of the project repository."""
    if rev:
        files = git("ls-tree", "-r", "--name-only", rev, "--", *KDIRS,
                    cwd=TOP).decode().split("\n")
    else:
        files = git("ls-files", "--", *KDIRS, cwd=TOP).decode().split("\n")
    files = [f for f in files if f]
    return ([f for f in files if f.endswith(".patch")],
            [f for f in files if not f.endswith(".patch")])


def old_file(f, rev=None):
    """(content, mode) of a file of the old layout."""
    if rev:
        mode = git("ls-tree", rev, "--", f, cwd=TOP).decode().split()[0]
        return git("show", "%s:%s" % (rev, f), cwd=TOP), mode
    path = os.path.join(TOP, f)
    with open(path, "rb") as fh:
        return fh.read(), "100755" if os.access(path, os.X_OK) else "100644"


def final_tree(patches, new, rev=None):
    idx = os.path.join(LINUX, ".git", "index.convert")
    env = {"GIT_INDEX_FILE": idx}
    if os.path.exists(idx):
        os.unlink(idx)
    git("read-tree", "base", env=env)
    for p in patches:
        git("apply", "--cached", "-p1", "-", inp=old_file(p, rev)[0], env=env)
    for f in new:
        data, mode = old_file(f, rev)
        blob = git("hash-object", "-w", "--stdin", inp=data).decode().strip()
        git("update-index", "--add", "--cacheinfo", "%s,%s,%s" % (mode, blob, f),
            env=env)
    tree = git("write-tree", env=env).decode().strip()
    os.unlink(idx)
    return tree


HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def hunks_of(tree):
    """Zero-context hunks of base..tree, and the mode of every changed path."""
    out = git("diff", "-U0", "--no-color", "--no-renames", "--no-ext-diff",
              "base", tree).decode()
    hunks, modes, path, cur = [], {}, None, None
    for line in out.splitlines(keepends=True):
        if line.startswith("diff --git "):
            cur = None
            path = line.split(" b/", 1)[1].rstrip("\n")
            continue
        if line.startswith(("new file mode ", "index ")) and cur is None:
            if line.startswith("new file mode "):
                modes[path] = line.split()[-1]
            continue
        if line.startswith(("--- ", "+++ ")) and cur is None:
            continue
        m = HUNK_RE.match(line)
        if m:
            old_start, old_len = int(m.group(1)), m.group(2)
            old_len = 1 if old_len is None else int(old_len)
            # "-N,0" inserts after line N.
            if old_len == 0:
                old_start += 1
            cur = Hunk(path, old_start, old_len, [], line)
            hunks.append(cur)
            continue
        if cur is None:
            if line.startswith(("deleted file", "old mode", "new mode",
                                "similarity", "Binary")):
                die("%s: %s is not supported" % (path, line.strip()))
            continue
        cur.text += line
        if line.startswith("+"):
            cur.new_lines.append(line[1:])
        elif line.startswith("\\"):
            # "\ No newline at end of file": the last line has no \n.
            if cur.new_lines and cur.text.splitlines()[-2].startswith("+"):
                cur.new_lines[-1] = cur.new_lines[-1].rstrip("\n")
    return hunks, modes


def claim(hunks, patches, split):
    """Give every hunk to one patch: a (path, regex) rule of exactly one
    patch, or else the (path, None) "rest" rule of one patch."""
    used, errors = {}, []
    for h in hunks:
        specific, rest = [], []
        for i, p in enumerate(patches):
            for rule in p.take:
                path, rx = rule
                if path != h.path:
                    continue
                if rx is None:
                    rest.append((i, rule))
                elif re.search(rx, h.text, re.M):
                    specific.append((i, rule))
        cands = specific or rest
        if not cands:
            errors.append("no patch claims this hunk (add a rule to one):\n  %s"
                          % h.where())
            continue
        if len(set(i for i, _ in cands)) > 1:
            errors.append("several patches claim this hunk (make the rules "
                          "narrower):\n  %s\n  claimed by: %s" % (h.where(),
                          "; ".join("'%s' %r" % (patches[i].subject, r[1])
                                    for i, r in cands)))
            continue
        h.owner = cands[0][0]
        for _, r in cands:
            used[(cands[0][0], r)] = True
    for i, p in enumerate(patches):
        for rule in p.take:
            if (i, rule) not in used:
                errors.append("rule %r of patch '%s' claims no hunk (stale "
                              "rule?)" % (rule, p.subject))
    if errors:
        die("%s does not fit the old layout:\n%s" % (split, "\n".join(errors)))


def base_lines(path):
    r = subprocess.run(["git", "-C", LINUX, "show", "base:" + path],
                       capture_output=True)
    if r.returncode:
        return None
    return r.stdout.decode().splitlines(keepends=True)


def content_at(path, hunks, step):
    """The file after patches 0..step (before "before" substitutions)."""
    mine = sorted((h for h in hunks if h.path == path and h.owner <= step),
                  key=lambda h: h.old_start)
    base = base_lines(path)
    if base is None and not mine:
        return None
    base = base or []
    out, pos = [], 1
    for h in mine:
        out.extend(base[pos - 1:h.old_start - 1])
        out.extend(h.new_lines)
        pos = h.old_start + h.old_len
    out.extend(base[pos - 1:])
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default=os.path.join(TOP, "harness",
                                                    "convert-split-linux.py"))
    ap.add_argument("--out", default=os.path.join(TOP, "patches", "linux"))
    ap.add_argument("--keep-old", action="store_true")
    ap.add_argument("--from", dest="rev", metavar="REV",
                    help="read the old layout from commit REV of this "
                    "repository instead of the work tree (implies --keep-old)")
    ap.add_argument("--list", action="store_true",
                    help="print the hunks to be claimed and stop")
    a = ap.parse_args()

    if subprocess.run([os.path.join(TOP, "harness", "tree.sh"), "base"]).returncode:
        die("cannot unpack the base into build/linux")
    ns = {"Patch": Patch, "re": re}
    with open(a.split) as f:
        exec(compile(f.read(), a.split, "exec"), ns)
    patches = ns["PATCHES"]
    split = os.path.relpath(a.split, TOP)

    old_patches, new_files = old_layout(a.rev)
    if not old_patches and not new_files:
        die("the repository has no .patch file and no new file: "
            "nothing to convert")
    final = final_tree(old_patches, new_files, a.rev)
    hunks, modes = hunks_of(final)
    if a.list:
        for h in hunks:
            print(h.where() if not h.text.startswith("@@ -0,0") else
                  "%s: new file" % h.path)
        return
    claim(hunks, patches, split)

    # Every "before" substitution must be found at least once.
    befores = [(i, b) for i, p in enumerate(patches) for b in p.before]
    found = {}
    paths = sorted(set(h.path for h in hunks))
    idx = os.path.join(LINUX, ".git", "index.convert")
    env = {"GIT_INDEX_FILE": idx}
    if os.path.exists(idx):
        os.unlink(idx)
    git("read-tree", "base", env=env)
    parent = git("rev-parse", "base").decode().strip()
    prev = {}
    commits = []
    for step, p in enumerate(patches):
        changed = 0
        for path in paths:
            c = content_at(path, hunks, step)
            if c is not None:
                for j, (bpath, final_text, earlier) in befores:
                    if bpath != path or j <= step:
                        continue
                    if isinstance(final_text, re.Pattern):
                        n = len(final_text.findall(c))
                    else:
                        n = c.count(final_text)
                    if n > 1:
                        die("'before' text of patch '%s' occurs %d times in %s"
                            % (patches[j].subject, n, path))
                    if n == 1:
                        if isinstance(final_text, re.Pattern):
                            c = final_text.sub(lambda m: earlier, c)
                        else:
                            c = c.replace(final_text, earlier)
                        found[(j, final_text)] = True
            if prev.get(path) == c:
                continue
            prev[path] = c
            changed += 1
            if c is None:
                git("update-index", "--force-remove", path, env=env)
                continue
            blob = git("hash-object", "-w", "--stdin", inp=c.encode()).decode().strip()
            mode = modes.get(path, "100644")
            base_mode = git("ls-tree", "base", "--", path).decode().split()
            if base_mode:
                mode = base_mode[0]
            git("update-index", "--add", "--cacheinfo",
                "%s,%s,%s" % (mode, blob, path), env=env)
        if not changed:
            die("patch '%s' changes nothing" % p.subject)
        tree = git("write-tree", env=env).decode().strip()
        msg = p.subject + "\n\n" + p.body + "\n"
        parent = git("commit-tree", tree, "-p", parent,
                     inp=msg.encode()).decode().strip()
        commits.append(parent)
    os.unlink(idx)
    for j, (bpath, final_text, _) in befores:
        if (j, final_text) not in found:
            die("'before' text of patch '%s' never found in %s:\n%s"
                % (patches[j].subject, bpath,
                   getattr(final_text, "pattern", final_text)))
    if git("rev-parse", parent + "^{tree}").decode().strip() != final:
        die("internal: the last step differs from the final tree")
    git("update-ref", "refs/heads/converted", parent)

    # Write the series as `make patches` does.
    os.makedirs(a.out, exist_ok=True)
    if os.path.exists(os.path.join(a.out, "series")):
        os.unlink(os.path.join(a.out, "series"))
    r = subprocess.run([os.path.join(TOP, "harness", "tree.sh"), "export",
                        "converted"], env=dict(os.environ, PATCH_DIR=a.out))
    if r.returncode:
        die("export failed")
    # Section comments of the split description go into the series file.
    sfile = os.path.join(a.out, "series")
    with open(sfile) as f:
        lines = f.read().splitlines()
    out, n = [], 0
    for line in lines:
        if line and not line.startswith("#"):
            if patches[n].section:
                out += ["", "# " + patches[n].section]
            n += 1
        out.append(line)
    with open(sfile, "w") as f:
        f.write("\n".join(out) + "\n")
    print("  CONVERT %d patches written to %s" % (len(patches),
                                                  os.path.relpath(a.out, TOP)))
    if not a.keep_old and not a.rev:
        subprocess.run(["git", "-C", TOP, "rm", "-q", "--"] + old_patches +
                       new_files, check=True)
        print("  CONVERT old layout removed (git rm): %d .patch files, "
              "%d new files" % (len(old_patches), len(new_files)))


if __name__ == "__main__":
    main()
