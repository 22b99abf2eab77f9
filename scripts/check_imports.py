#!/usr/bin/env python3
"""File-level import-graph lint for the `app` crate.

Usage: python3 scripts/check_imports.py [SOURCE_ROOT]   (default: app/src)

Builds the graph "file A refers to a module that lives in file B" from `use` trees and from
paths written inline (`crate::backend::db::now_ms()`, `super::audit::record(..)`,
`<crate::ui::components::form::Field/>`), then reports:

  1. import cycles between files (strongly connected components of more than one file), with
     one example `file:line` for every edge inside the cycle;
  2. files under `backend/` that import from `api/` or `ui/`.

Exit status: 1 if either list is non-empty, 0 otherwise (2 on usage errors).

Resolution rules (a deliberately small model of Rust's, stdlib only, no compiler):
  * the module tree is walked from `lib.rs` (or `main.rs`) following `mod foo;` declarations
    (`dir/foo.rs` or `dir/foo/mod.rs`, `#[path = ".."]` honoured); inline `mod foo { .. }`
    modules belong to the file that contains them;
  * a path is resolved to the deepest module that exists. If the path names that module itself
    (`use crate::domain::patient;`), that module's file is the target. Otherwise the next
    segment is an item of that module, and the target is the file that DEFINES the item:
    re-exports and imports are followed (`pub use field_error::FieldError;` in `domain/mod.rs`
    makes `crate::domain::FieldError` and `super::FieldError` land on `domain/field_error.rs`;
    `pub use lifecycle::*;` makes `release::Status` land on `release/lifecycle.rs` if that file
    defines `Status`), through chains of re-exports, up to a depth limit. An item is found
    where the module defines it at item level (`fn`, `struct`, `enum`, `union`, `trait`,
    `type`, `const`, `static`, `mod`, `macro_rules!`, any visibility, also inside a top-level
    macro call such as `text_enum! { pub enum X {..} }`; `#[macro_export]` macros also live at
    the crate root). If the name is not found, the target is the file of the last module
    reached (the module itself, or the child an explicit re-export points into);
  * `crate::`, `self::`, `super::` (relative to the enclosing module, inline ones included),
    child modules, and names bound to modules by `use` (including through `use x::*` globs)
    are understood; anything else (std, leptos, sea_orm, local types) is ignored;
  * `mod foo;` is not an edge, and neither is a re-export (`pub use`, `pub(crate) use`,
    `pub(super) use`, `pub(in ..) use`; `pub(self) use` is a plain import): both are
    declarations, and whoever uses a re-exported name depends on the file that defines it;
  * a glob import of a module (`use super::*;`, `use crate::x::*;`) is an edge to that module's
    file only if the module has items of its own; a facade made only of `mod` declarations,
    re-exports, comments and attributes is no edge at all. (A glob of a non-module, such as
    `use Status::*;`, is resolved like any item path);
  * a reference to oneself is not an edge;
  * items under `#[cfg(test)]` (and `cfg(all(test, ..))`) are skipped, `mod x;` included;
  * comments, string/char literals and `pub(in path)` visibilities are not paths.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tok:
    kind: str  # 'id', 'p' (punctuation), 'lit', 'life'
    val: str
    line: int


def _is_id_start(c: str) -> bool:
    return c == "_" or c.isalpha()


def _is_id_char(c: str) -> bool:
    return c == "_" or c.isalnum()


def lex(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n, line = 0, len(src), 1

    def scan_quoted(j: int, quote: str) -> int:
        """j points just after the opening quote; returns index just after the closing one."""
        nonlocal line
        while j < n:
            c = src[j]
            if c == "\\":
                if j + 1 < n and src[j + 1] == "\n":
                    line += 1
                j += 2
                continue
            if c == "\n":
                line += 1
            elif c == quote:
                return j + 1
            j += 1
        return n

    def scan_raw(j: int) -> int | None:
        """j points at the hashes/quote after an `r` prefix; None if this is not a raw string."""
        nonlocal line
        k = j
        while k < n and src[k] == "#":
            k += 1
        if k >= n or src[k] != '"':
            return None
        hashes = k - j
        end = src.find('"' + "#" * hashes, k + 1)
        end = n if end < 0 else end + 1 + hashes
        line += src.count("\n", k, end)
        return end

    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if c == "/" and i + 1 < n and src[i + 1] == "/":
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and i + 1 < n and src[i + 1] == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth += 1
                    j += 2
                elif src.startswith("*/", j):
                    depth -= 1
                    j += 2
                else:
                    if src[j] == "\n":
                        line += 1
                    j += 1
            i = j
            continue
        if c == '"':
            start_line = line
            j = scan_quoted(i + 1, '"')
            toks.append(Tok("lit", src[i + 1 : j - 1], start_line))
            i = j
            continue
        if c == "'":
            # char literal or lifetime / label
            if i + 1 < n and src[i + 1] == "\\":
                j = scan_quoted(i + 1, "'")
                toks.append(Tok("lit", "", line))
                i = j
                continue
            if i + 2 < n and src[i + 2] == "'" and src[i + 1] != "\n":
                toks.append(Tok("lit", "", line))
                i += 3
                continue
            if i + 1 < n and _is_id_start(src[i + 1]):
                j = i + 1
                while j < n and _is_id_char(src[j]):
                    j += 1
                toks.append(Tok("life", src[i:j], line))
                i = j
                continue
            toks.append(Tok("p", "'", line))
            i += 1
            continue
        if _is_id_start(c):
            # string prefixes: r"..", r#".."#, b"..", br"..", c"..", cr"..", b'..'
            if c in "bc" and i + 1 < n and src[i + 1] == "r":
                end = scan_raw(i + 2)
                if end is not None:
                    toks.append(Tok("lit", "", line))
                    i = end
                    continue
            if c == "r":
                start_line = line
                end = scan_raw(i + 1)
                if end is not None:
                    toks.append(Tok("lit", "", start_line))
                    i = end
                    continue
                if i + 2 < n and src[i + 1] == "#" and _is_id_start(src[i + 2]):  # raw identifier
                    j = i + 2
                    while j < n and _is_id_char(src[j]):
                        j += 1
                    toks.append(Tok("id", "r#" + src[i + 2 : j], line))
                    i = j
                    continue
            if c in "bc" and i + 1 < n and src[i + 1] == '"':
                start_line = line
                i = scan_quoted(i + 2, '"')
                toks.append(Tok("lit", "", start_line))
                continue
            if c == "b" and i + 1 < n and src[i + 1] == "'":
                i = scan_quoted(i + 2, "'")
                toks.append(Tok("lit", "", line))
                continue
            j = i + 1
            while j < n and _is_id_char(src[j]):
                j += 1
            toks.append(Tok("id", src[i:j], line))
            i = j
            continue
        if c.isdigit():
            j = i + 1
            while j < n and (_is_id_char(src[j]) or (src[j] == "." and j + 1 < n and src[j + 1].isdigit())):
                j += 1
            toks.append(Tok("lit", src[i:j], line))
            i = j
            continue
        if c == ":" and i + 1 < n and src[i + 1] == ":":
            toks.append(Tok("p", "::", line))
            i += 2
            continue
        toks.append(Tok("p", c, line))
        i += 1
    return toks


# --------------------------------------------------------------------------------------------
# Per-file scan
# --------------------------------------------------------------------------------------------

OPEN = {"(": ")", "[": "]", "{": "}"}
CLOSE = {")", "]", "}"}
SEMI_ITEMS = {"use", "let", "static", "type", "extern"}
ITEM_KWS = SEMI_ITEMS | {"fn", "mod", "impl", "trait", "struct", "enum", "union", "const", "macro_rules"}


@dataclass
class Ref:
    file: Path
    line: int
    scope: tuple[str, ...]  # module the reference is written in
    segs: tuple[str, ...]
    glob: bool = False  # `use path::*`


@dataclass
class Crate:
    modules: dict[tuple[str, ...], Path] = field(default_factory=dict)  # module -> file
    children: dict[tuple[str, ...], set[str]] = field(default_factory=lambda: defaultdict(set))
    bindings: dict[tuple[str, ...], dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = field(
        default_factory=lambda: defaultdict(dict)
    )  # module -> name -> (scope it was written in, path)
    globs: dict[tuple[str, ...], list[tuple[tuple[str, ...], tuple[str, ...]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    refs: list[Ref] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # module -> item name -> file that defines it (item level only; any visibility)
    defs: dict[tuple[str, ...], dict[str, Path]] = field(default_factory=lambda: defaultdict(dict))
    # modules that have items of their own (anything but `mod` declarations and re-exports)
    own_items: set[tuple[str, ...]] = field(default_factory=set)


def matching(toks: list[Tok], i: int) -> int:
    """toks[i] is an opening bracket; returns the index of its partner (or len)."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t.kind != "p":
            continue
        if t.val in OPEN:
            depth += 1
        elif t.val in CLOSE:
            depth -= 1
            if depth == 0:
                return j
    return len(toks)


def cfg_is_test(toks: list[Tok]) -> bool:
    """toks: the tokens of a cfg predicate. True if it can only hold under `cfg(test)`."""

    def parse(i: int) -> tuple[bool, int]:
        t = toks[i] if i < len(toks) else None
        if t is None or t.kind != "id":
            return False, i + 1
        if i + 1 < len(toks) and toks[i + 1].val == "(":
            end = matching(toks, i + 1)
            args, j = [], i + 2
            while j < end:
                v, j = parse(j)
                args.append(v)
                while j < end and toks[j].val != ",":
                    j = matching(toks, j) + 1 if toks[j].val in OPEN else j + 1
                j += 1
            if t.val == "all":
                return any(args), end + 1
            if t.val == "any":
                return bool(args) and all(args), end + 1
            return False, end + 1
        if i + 1 < len(toks) and toks[i + 1].val == "=":
            return False, i + 3
        return t.val == "test", i + 1

    return parse(0)[0] if toks else False


def skip_item(toks: list[Tok], i: int) -> int:
    """Skips the item (or statement/field) starting at i; returns the index after it."""
    n = len(toks)
    while i + 1 < n and toks[i].val == "#" and toks[i + 1].val == "[":
        i = matching(toks, i + 1) + 1
    # find the item's keyword
    j, kw = i, None
    while j < n:
        t = toks[j]
        if t.kind == "id" and t.val == "pub":
            j += 1
            if j < n and toks[j].val == "(":
                j = matching(toks, j) + 1
            continue
        if t.kind == "id" and t.val in ("async", "unsafe", "default"):
            j += 1
            continue
        if t.kind == "id":
            kw = t.val
            if kw == "const" and j + 1 < n and toks[j + 1].val in ("fn", "unsafe", "async"):
                kw = "fn"
        break
    semi_only = kw in SEMI_ITEMS or kw == "const"
    depth = 0
    while j < n:
        t = toks[j]
        if t.kind == "p":
            if t.val in OPEN:
                depth += 1
            elif t.val in CLOSE:
                if depth == 0:
                    return j  # end of the enclosing list/block
                depth -= 1
                if depth == 0 and t.val == "}" and not semi_only:
                    return j + 1
            elif depth == 0 and t.val == ";":
                return j + 1
            elif depth == 0 and t.val == "," and kw not in ITEM_KWS:
                return j + 1
        j += 1
    return n


def parse_use_tree(toks: list[Tok], i: int, prefix: tuple[str, ...], out: list) -> int:
    """Parses one use tree at i. Appends (segs, kind, alias, line); returns index after it."""
    segs = list(prefix)
    line = toks[i].line if i < len(toks) else 0
    n = len(toks)
    if i < n and toks[i].val == "::":  # `use ::extern_crate::...`
        segs.append("::")
        i += 1
    while i < n:
        t = toks[i]
        if t.val == "{":
            end = matching(toks, i)
            j = i + 1
            while j < end:
                if toks[j].val == ",":
                    j += 1
                    continue
                j = parse_use_tree(toks, j, tuple(segs), out)
            return end + 1
        if t.val == "*":
            out.append((tuple(segs), "glob", None, t.line))
            return i + 1
        if t.kind == "id":
            segs.append(t.val[2:] if t.val.startswith("r#") else t.val)
            line = t.line
            i += 1
            if i < n and toks[i].val == "::":
                i += 1
                continue
            alias = None
            if i + 1 < n and toks[i].val == "as":
                alias = toks[i + 1].val
                i += 2
            if segs[-1] == "self":
                segs.pop()
                out.append((tuple(segs), "name", alias or (segs[-1] if segs else None), line))
            else:
                out.append((tuple(segs), "name", alias or segs[-1], line))
            return i
        return i + 1  # unexpected token: bail out of this tree
    return i


def is_reexport(toks: list[Tok], i: int) -> bool:
    """toks[i] is `use`: True if it is `pub use`, `pub(crate) use`, `pub(super) use`, `pub(in ..) use`."""
    j = i - 1
    if j >= 0 and toks[j].val == ")":
        depth = 0
        while j >= 0:
            v = toks[j].val
            if v == ")":
                depth += 1
            elif v == "(":
                depth -= 1
                if depth == 0:
                    break
            j -= 1
        inner = [t.val for t in toks[j + 1 : i - 1]]
        if inner == ["self"]:
            return False  # `pub(self)` is private
        j -= 1
    return j >= 0 and toks[j].kind == "id" and toks[j].val == "pub"


def preceding_attrs(toks: list[Tok], i: int) -> list[list[str]]:
    """The bodies of the outer attributes directly before the item whose first token is i
    (visibility included, e.g. `#[macro_export] pub macro_rules!` is not valid Rust anyway)."""
    out = []
    j = i - 1
    while j >= 1 and toks[j].val == "]":
        depth, k = 0, j
        while k >= 0:
            v = toks[k].val
            if v == "]":
                depth += 1
            elif v == "[":
                depth -= 1
                if depth == 0:
                    break
            k -= 1
        if k < 1 or toks[k - 1].val != "#":
            break
        out.append([t.val for t in toks[k + 1 : j]])
        j = k - 2
    return out


DEF_KWS = {"fn", "struct", "enum", "trait", "type", "static", "const"}


class FileScanner:
    def __init__(self, crate: Crate, path: Path, module: tuple[str, ...], child_dir: Path):
        self.crate = crate
        self.path = path
        self.module = module
        self.child_dir = child_dir
        self.pending: list[tuple[tuple[str, ...], Path, Path]] = []  # (module, file, child dir)

    def declare_child(self, scope: tuple[str, ...], cdir: Path, name: str, attr_path: str | None, inline: bool):
        modpath = scope + (name,)
        self.crate.children[scope].add(name)
        if attr_path is not None:
            base = cdir if inline else self.path.parent
            f = (base / attr_path).resolve()
            self.pending.append((modpath, f, f.parent / f.stem if f.name != "mod.rs" else f.parent))
            return
        a, b = cdir / f"{name}.rs", cdir / name / "mod.rs"
        if a.exists():
            self.pending.append((modpath, a, cdir / name))
        elif b.exists():
            self.pending.append((modpath, b, cdir / name))
        else:
            self.crate.missing.append(f"{self.path}: module `{name}` has no file ({a} or {b})")

    def scan(self) -> None:
        try:
            src = self.path.read_text(encoding="utf-8")
        except OSError as e:
            self.crate.missing.append(f"{self.path}: {e}")
            return
        toks = lex(src)
        n = len(toks)
        # scope stack: (module path or None for a plain block, child dir)
        stack: list[tuple[tuple[str, ...] | None, Path]] = []
        attr_path: str | None = None
        attr_end = 0  # tokens before this index are inside an attribute
        macro_levels: set[int] = set()  # stack depths that are the `{ .. }` of a top-level macro call
        i = 0

        def item_level() -> bool:
            """True if the current token is directly in a module (or in a top-level macro call's body)."""
            return not stack or stack[-1][0] is not None or len(stack) in macro_levels

        def current() -> tuple[tuple[str, ...], Path]:
            for m, d in reversed(stack):
                if m is not None:
                    return m, d
            return self.module, self.child_dir

        while i < n:
            t = toks[i]
            if t.kind == "p":
                if t.val == "#" and i + 1 < n and toks[i + 1].val in ("[", "!"):
                    inner = toks[i + 1].val == "!"
                    lb = i + 2 if inner else i + 1
                    if lb < n and toks[lb].val == "[":
                        rb = matching(toks, lb)
                        attr_end = max(attr_end, rb + 1)
                        body = toks[lb + 1 : rb]
                        if body and body[0].val == "cfg" and len(body) > 1 and body[1].val == "(":
                            if cfg_is_test(body[2 : matching(body, 1)]):
                                if inner:  # the whole enclosing module is test-only
                                    if not stack:
                                        return
                                    i = matching(toks, self._open_of(toks, stack, i))
                                    continue
                                i = skip_item(toks, rb + 1)
                                attr_path = None
                                continue
                        if len(body) >= 3 and body[0].val == "path" and body[1].val == "=" and body[2].kind == "lit":
                            attr_path = body[2].val
                        i += 1  # let the attribute's own tokens be scanned for paths
                        continue
                if t.val == "{":
                    is_macro = (
                        i >= 2 and toks[i - 1].val == "!" and toks[i - 2].kind == "id"
                        and toks[i - 2].val != "macro_rules" and item_level() and i >= attr_end
                    )
                    stack.append((None, self.child_dir))
                    if is_macro:
                        macro_levels.add(len(stack))
                elif t.val == "}":
                    if stack:
                        macro_levels.discard(len(stack))
                        stack.pop()
                i += 1
                continue
            if t.kind != "id":
                i += 1
                continue
            scope, sdir = current()
            if i >= attr_end and item_level():
                self.note_item(toks, i, scope)
            if t.val == "mod" and i + 2 < n and toks[i + 1].kind == "id" and toks[i + 2].val in (";", "{"):
                name = toks[i + 1].val
                name = name[2:] if name.startswith("r#") else name
                if toks[i + 2].val == ";":
                    self.declare_child(scope, sdir, name, attr_path, inline=scope != self.module)
                    i += 3
                else:
                    modpath = scope + (name,)
                    self.crate.children[scope].add(name)
                    self.crate.modules[modpath] = self.path
                    stack.append((modpath, sdir / name))
                    i += 3
                attr_path = None
                continue
            if t.val == "use" and (i == 0 or toks[i - 1].val != "::"):
                reexport = is_reexport(toks, i)
                if not reexport and i >= attr_end and item_level():
                    self.crate.own_items.add(scope)  # a plain import is an item of the module
                leaves: list = []
                j = i + 1
                j = parse_use_tree(toks, j, (), leaves)
                while j < n and toks[j].val != ";":
                    j += 1
                for segs, kind, alias, line in leaves:
                    if not segs or segs[0] == "::":
                        continue
                    if not reexport:  # a re-export is a declaration, not an edge
                        self.crate.refs.append(Ref(self.path, line, scope, segs, kind == "glob"))
                    if kind == "glob":
                        self.crate.globs[scope].append((scope, segs))
                    elif alias and alias != "_":
                        self.crate.bindings[scope][alias] = (scope, segs)
                i = j + 1
                continue
            # inline path: ident (:: ident)+ not preceded by `::` / `$`, not a `pub(in path)`
            if i + 2 < n and toks[i + 1].val == "::" and toks[i + 2].kind == "id":
                prev = toks[i - 1] if i else None
                if prev is not None and prev.val in ("::", "$"):
                    i += 1
                    continue
                if prev is not None and prev.val == "in" and i >= 3 and toks[i - 2].val == "(" and toks[i - 3].val == "pub":
                    i += 1
                    continue
                segs = [t.val]
                j = i + 1
                line = t.line
                while j + 1 < n and toks[j].val == "::" and toks[j + 1].kind == "id":
                    segs.append(toks[j + 1].val)
                    line = toks[j + 1].line
                    j += 2
                self.crate.refs.append(Ref(self.path, line, scope, tuple(segs)))
                i = j
                continue
            i += 1

    def note_item(self, toks: list[Tok], i: int, scope: tuple[str, ...]) -> None:
        """toks[i] is an identifier at item level: records item definitions and own items."""
        n = len(toks)
        v = toks[i].val
        nxt = toks[i + 1] if i + 1 < n else None
        prev = toks[i - 1].val if i else ""
        if nxt is None or prev == "::":
            return
        name: str | None = None
        if v == "macro_rules":
            if nxt.val == "!" and i + 2 < n and toks[i + 2].kind == "id":
                name = toks[i + 2].val
                self.crate.own_items.add(scope)
                if any(a and a[0] == "macro_export" for a in preceding_attrs(toks, i)):
                    self.crate.defs[()].setdefault(name, self.path)
        elif v in DEF_KWS:
            if v == "const" and (prev in ("*", "<", ",") or nxt.val in ("fn", "unsafe", "async", "extern")):
                return  # `*const T`, a const generic, or `const fn` (the `fn` is the item)
            j = i + 1
            if v == "static" and nxt.val == "mut":
                j += 1
            if j < n and toks[j].kind == "id":
                name = toks[j].val
                self.crate.own_items.add(scope)
        elif v == "union":
            if nxt.kind == "id" and i + 2 < n and toks[i + 2].val in ("{", "<", "where"):
                name = nxt.val
                self.crate.own_items.add(scope)
        elif v in ("impl", "extern"):
            self.crate.own_items.add(scope)
        elif v == "mod":
            if nxt.kind == "id":
                name = nxt.val
        elif nxt.val == "!" and i + 2 < n and toks[i + 2].val in ("{", "(", "["):
            self.crate.own_items.add(scope)  # a macro call at item level: it makes items here
        if name is not None and name != "_":
            name = name[2:] if name.startswith("r#") else name
            self.crate.defs[scope].setdefault(name, self.path)

    @staticmethod
    def _open_of(toks, stack, i):  # pragma: no cover - rare (`#![cfg(test)]` inside a module)
        depth = 0
        for j in range(i, -1, -1):
            v = toks[j].val
            if v == "}":
                depth += 1
            elif v == "{":
                if depth == 0:
                    return j
                depth -= 1
        return 0


def build(root: Path) -> Crate:
    crate = Crate()
    top = root / "lib.rs"
    if not top.exists():
        top = root / "main.rs"
    if not top.exists():
        raise SystemExit(f"check_imports: no lib.rs or main.rs under {root}")
    queue: list[tuple[tuple[str, ...], Path, Path]] = [((), top, root)]
    seen: set[Path] = set()
    while queue:
        modpath, path, cdir = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        crate.modules[modpath] = path
        s = FileScanner(crate, path, modpath, cdir)
        s.scan()
        queue.extend(s.pending)
    return crate


# --------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------


MAX_DEPTH = 24  # resolution steps (module names, re-export chains) before giving up


class Resolver:
    def __init__(self, crate: Crate):
        self.c = crate
        self.active: set = set()

    def name_in(self, scope: tuple[str, ...], name: str, depth: int = 0) -> tuple[str, ...] | None:
        """The module that `name` denotes when written in module `scope` (None if not a module)."""
        if name in self.c.children.get(scope, ()):
            return scope + (name,)
        key = ("mod", scope, name)
        if key in self.active or depth > MAX_DEPTH:
            return None
        self.active.add(key)
        try:
            b = self.c.bindings.get(scope, {}).get(name)
            if b is not None:
                m, full, _ = self.resolve(b[0], b[1], depth + 1)
                if m is not None and full:
                    return m
            for gscope, gsegs in self.c.globs.get(scope, ()):
                g, full, _ = self.resolve(gscope, gsegs, depth + 1)
                if g is not None and full:
                    r = self.name_in(g, name, depth + 1)
                    if r is not None:
                        return r
        finally:
            self.active.discard(key)
        return None

    def resolve(self, scope: tuple[str, ...], segs: tuple[str, ...], depth: int = 0):
        """Returns (deepest module, whether every segment was a module, index of the first segment
        after that module) or (None, False, 0)."""
        if not segs:
            return None, False, 0
        first, k = segs[0], 1
        if first == "crate":
            cur = ()
        elif first == "self":
            cur = scope
        elif first == "super":
            if not scope:
                return None, False, 0
            cur = scope[:-1]
            while k < len(segs) and segs[k] == "super":
                if not cur:
                    return None, False, 0
                cur = cur[:-1]
                k += 1
        else:
            m = self.name_in(scope, first, depth)
            if m is None:
                return None, False, 0
            cur = m
        while k < len(segs):
            s = segs[k]
            if s == "self":
                k += 1
                continue
            nxt = self.name_in(cur, s, depth)
            if nxt is None or nxt not in self.c.modules:
                break
            cur = nxt
            k += 1
        if cur not in self.c.modules:
            return None, False, 0
        return cur, k == len(segs), k

    def locate(self, module: tuple[str, ...], name: str, depth: int = 0) -> Path | None:
        """The file that defines item `name` of `module`, following the module's imports and
        re-exports (named first, then globs); None if it cannot be found."""
        key = ("item", module, name)
        if key in self.active or depth > MAX_DEPTH:
            return None
        self.active.add(key)
        try:
            f = self.c.defs.get(module, {}).get(name)
            if f is not None:
                return f
            b = self.c.bindings.get(module, {}).get(name)
            if b is not None:
                f = self.target(b[0], b[1], depth + 1)
                if f is not None:
                    return f
            for gscope, gsegs in self.c.globs.get(module, ()):
                g, full, _ = self.resolve(gscope, gsegs, depth + 1)
                if g is not None and full and g != module:
                    f = self.locate(g, name, depth + 1)
                    if f is not None:
                        return f
        finally:
            self.active.discard(key)
        return None

    def target(self, scope: tuple[str, ...], segs: tuple[str, ...], depth: int = 0) -> Path | None:
        """The file a (non-glob) path written in `scope` depends on, or None if outside the crate."""
        m, full, k = self.resolve(scope, segs, depth)
        if m is None:
            return None
        if full:
            return self.c.modules[m]
        return self.locate(m, segs[k], depth + 1) or self.c.modules[m]


# --------------------------------------------------------------------------------------------
# Graph checks
# --------------------------------------------------------------------------------------------


def sccs(nodes: list[Path], edges: dict[Path, set[Path]]) -> list[list[Path]]:
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    on: set[Path] = set()
    stack: list[Path] = []
    out: list[list[Path]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__)
        return 2
    if len(argv) == 2:
        root = Path(argv[1])
    else:
        root = Path("app/src")
        if not root.exists():
            root = Path(__file__).resolve().parent.parent / "app" / "src"
    if not root.is_dir():
        print(f"check_imports: {root} is not a directory", file=sys.stderr)
        return 2
    root_abs = root.resolve()

    def show(p: Path) -> str:
        try:
            return str(root / p.resolve().relative_to(root_abs))
        except ValueError:
            return str(p)

    crate = build(root_abs)
    res = Resolver(crate)
    files = sorted(set(crate.modules.values()))

    # edge -> sorted list of lines
    occ: dict[tuple[Path, Path], dict[int, str]] = defaultdict(dict)  # edge -> line -> path text
    for r in crate.refs:
        m, full, _ = res.resolve(r.scope, r.segs)
        if m is None:
            continue
        if r.glob and full:
            if m not in crate.own_items:
                continue  # `use facade::*;` of a module with nothing but `mod`s and re-exports
            target = crate.modules[m]
        else:
            target = res.target(r.scope, r.segs)
        if target is not None and target != r.file:
            occ[(r.file, target)].setdefault(r.line, "::".join(r.segs + (("*",) if r.glob else ())))
    edges: dict[Path, set[Path]] = defaultdict(set)
    for a, b in occ:
        edges[a].add(b)

    cycles = [c for c in sccs(files, edges) if len(c) > 1]
    cycles.sort(key=lambda c: (-len(c), [str(p) for p in c]))

    backend, api, ui = root_abs / "backend", root_abs / "api", root_abs / "ui"
    layering = []
    for (a, b), lines in sorted(occ.items()):
        if a.is_relative_to(backend) and (b.is_relative_to(api) or b.is_relative_to(ui)):
            for ln in sorted(lines):
                layering.append((a, ln, b, lines[ln]))

    print(f"check_imports: {len(files)} files, {len(occ)} file-to-file edges under {root}")
    for msg in crate.missing:
        print(f"  warning: {msg}")
    orphans = sorted(p for p in root_abs.rglob("*.rs") if p not in set(files))
    for p in orphans:
        print(f"  note: {show(p)} is not reached from the crate root (or only under cfg(test)); not checked")

    print(f"\nImport cycles: {len(cycles)}")
    for k, comp in enumerate(cycles, 1):
        names = ", ".join(str(p.relative_to(root_abs)) if p.is_relative_to(root_abs) else str(p) for p in comp)
        print(f"  cycle {k} ({len(comp)} files under {root}): {names}")
        inside = set(comp)
        for a in comp:
            for b in sorted(edges.get(a, ())):
                if b in inside:
                    lines = sorted(occ[(a, b)])
                    more = f", +{len(lines) - 1} more line(s)" if len(lines) > 1 else ""
                    print(f"    {show(a)}:{lines[0]} -> {show(b)}  ({occ[(a, b)][lines[0]]}{more})")

    print(f"\nbackend/ importing api/ or ui/: {len(layering)}")
    for a, ln, b, text in layering:
        print(f"  {show(a)}:{ln} -> {show(b)}  ({text})")

    failed = bool(cycles or layering)
    print(
        f"\n{'FAIL' if failed else 'OK'}: {len(cycles)} import cycle(s), "
        f"{len(layering)} backend->api/ui import(s)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
