"""File trees of layers, built the way dive builds them, so that dive's numbers come out equal.

One ``FileTree`` per layer holds a node for every path its tar names (parents it does not name
are made as empty nodes). Whiteouts (``.wh.NAME``) stay in the layer's tree as nodes, as dive
keeps them; opaque-directory markers (``.wh..wh..opq``) and anything below a ``.wh..wh..``
component are dropped, as dive drops them. ``stack`` lays an upper layer's tree onto a merged
one (whiteouts remove, everything else is added), the order dive uses: children before their
parent, names in byte order.

Nothing here holds file contents: a regular file keeps its size and a CRC-32 of its data,
read once from the layer stream.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lamina.layer.tarread import TarReader

__all__ = ["FileInfo", "FileNode", "FileTree", "read_layer_tree", "go_file_mode"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_PREFIX = ".wh..wh.."

# Go's io/fs.FileMode type bits (dive reports modes as Go's tar reader gives them).
_MODE_DIR = 1 << 31
_MODE_SYMLINK = 1 << 27
_MODE_DEVICE = 1 << 26
_MODE_NAMED_PIPE = 1 << 25
_MODE_SOCKET = 1 << 24
_MODE_SETUID = 1 << 23
_MODE_SETGID = 1 << 22
_MODE_CHAR_DEVICE = 1 << 21
_MODE_STICKY = 1 << 20
_REGULAR_TYPES = (b"0", b"\0", b"7")


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What a layer's tar header says about one path (dive's FileInfo, with a CRC-32 for its hash)."""

    path: str = ""
    type_flag: int = 0
    linkname: str = ""
    size: int = 0
    mode: int = 0  # Go's os.FileMode bits, as dive exports them
    uid: int = 0
    gid: int = 0
    is_dir: bool = False
    #: CRC-32 of a regular file's data (0 for everything else): with the size, what tells a
    #: modified file from an unmodified one (dive uses a 64-bit xxhash; CRC-32 runs at memory
    #: speed in the standard library, and a change that keeps both size and CRC is 1 in 2**32)
    checksum: int = 0

    def same_as(self, other: FileInfo) -> bool:
        """dive's comparison: equal type, contents, mode and owner mean "unmodified"."""
        return (self.type_flag == other.type_flag and self.checksum == other.checksum and self.size == other.size
                and self.mode == other.mode and self.uid == other.uid and self.gid == other.gid)


#: the metadata of a parent directory a layer does not name itself (dive's empty FileInfo)
IMPLIED = FileInfo()


class FileNode:
    """One path in a tree; ``children`` is None for a node that never had any."""

    __slots__ = ("name", "parent", "children", "info")

    def __init__(self, name: str, parent: FileNode | None, info: FileInfo = IMPLIED):
        self.name = name
        self.parent = parent
        self.children: dict[str, FileNode] | None = None
        self.info = info

    @property
    def is_whiteout(self) -> bool:
        return self.name.startswith(WHITEOUT_PREFIX)

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def path(self) -> str:
        """The absolute path; a whiteout names the path it removes (its prefix dropped)."""
        names = [self.name[len(WHITEOUT_PREFIX):] if self.is_whiteout else self.name]
        node = self.parent
        while node is not None and node.parent is not None:
            names.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(names))

    def sorted_children(self) -> list[FileNode]:
        if not self.children:
            return []
        return [self.children[name] for name in sorted(self.children)]

    def walk_child_first(self) -> Iterator[FileNode]:
        """This node's subtree, children before parents, siblings by name (dive's visit order)."""
        stack: list[tuple[FileNode, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded or not node.children:
                yield node
                continue
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.sorted_children()))

    def subtree_size(self) -> int:
        """The sum of every node's size in this subtree (what dive counts for a removed directory)."""
        return sum(node.info.size for node in self.walk_child_first())

    def copy(self, parent: FileNode | None) -> FileNode:
        twin = FileNode(self.name, parent, self.info)
        if self.children:
            twin.children = {name: child.copy(twin) for name, child in self.children.items()}
        return twin


class FileTree:
    """The paths of one layer, or of several stacked; the root node has no name."""

    __slots__ = ("root", "file_size", "entries")

    def __init__(self) -> None:
        self.root = FileNode("", None)
        self.file_size = 0  # the sum of the tar headers' sizes: dive's layer size
        self.entries = 0  # tar members read (whiteouts included)

    def nodes(self) -> Iterator[FileNode]:
        """Every node but the root, children first (dive's depth-first, child-first visit)."""
        for node in self.root.walk_child_first():
            if node is not self.root:
                yield node

    def leaves(self) -> Iterator[tuple[FileNode, str]]:
        """The leaves with their paths, in dive's visit order (siblings by name, depth first); a
        whiteout's path is the path it removes."""
        stack: list[tuple[FileNode, str]] = [(self.root, "")]
        while stack:
            node, path = stack.pop()
            if not node.children:
                if node is not self.root:
                    yield node, path
                continue
            for name in sorted(node.children, reverse=True):
                child = node.children[name]
                shown = name[len(WHITEOUT_PREFIX):] if name.startswith(WHITEOUT_PREFIX) else name
                stack.append((child, f"{path}/{shown}"))

    def get(self, path: str) -> FileNode | None:
        node = self.root
        for name in path.strip("/").split("/"):
            if not name:
                continue
            if not node.children or name not in node.children:
                return None
            node = node.children[name]
        return node

    def add(self, path: str, info: FileInfo) -> FileNode | None:
        """Add (or update) ``path``; parents it passes are made empty. None for opaque markers."""
        node = self.root
        names = [name for name in path.strip("/").split("/") if name]
        for index, name in enumerate(names):
            child = node.children.get(name) if node.children else None
            if child is None:
                if name.startswith(OPAQUE_PREFIX):
                    return None
                child = FileNode(name, node)
                if node.children is None:
                    node.children = {}
                node.children[name] = child
            node = child
            if index == len(names) - 1:
                node.info = info
        return node if names else None

    def remove(self, path: str) -> bool:
        """Remove ``path`` and all below it; False when it is not in the tree."""
        node = self.get(path)
        if node is None or node is self.root or node.parent is None:
            return False
        siblings = node.parent.children
        assert siblings is not None
        del siblings[node.name]
        return True

    def copy(self) -> FileTree:
        twin = FileTree()
        twin.root = self.root.copy(None)
        twin.file_size = self.file_size
        twin.entries = self.entries
        return twin

    def stack(self, upper: FileTree) -> list[str]:
        """Lay ``upper`` onto this tree (whiteouts remove, the rest is added); the paths that failed.

        The same result as dive's walk of ``upper`` (children first, by name) that adds every
        node's path and removes every whiteout's target, done by walking both trees side by side
        instead of looking each path up from the root.
        """
        failed: list[str] = []
        frames = [(upper.root, self.root, iter(upper.root.sorted_children()))]
        while frames:
            upper_node, merged_node, pending = frames[-1]
            child = next(pending, None)
            if child is None:
                frames.pop()
                if upper_node is upper.root:
                    continue
                if upper_node.is_whiteout:  # a whiteout with children (odd, but dive allows it)
                    _remove_child(frames[-1][1], upper_node, failed)
                else:
                    merged_node.info = upper_node.info
                continue
            if child.is_whiteout and not child.children:
                _remove_child(merged_node, child, failed)
                continue
            if merged_node.children is None:
                merged_node.children = {}
            twin = merged_node.children.get(child.name)
            if twin is None:
                twin = merged_node.children[child.name] = FileNode(child.name, merged_node)
            if child.children:
                frames.append((child, twin, iter(child.sorted_children())))
            else:
                twin.info = child.info
        return failed


def _remove_child(merged_parent: FileNode, whiteout: FileNode, failed: list[str]) -> None:
    target = whiteout.name[len(WHITEOUT_PREFIX):]
    if merged_parent.children and target in merged_parent.children:
        del merged_parent.children[target]
    else:
        failed.append(whiteout.path())


def read_layer_tree(stream: BinaryIO, what: str = "layer tar", *,
                    on_member: Callable[[int], None] | None = None) -> FileTree:
    """Read one uncompressed layer tar into a tree, hashing regular files' data as it streams by."""
    tree = FileTree()
    reader = TarReader(stream, what)
    parents: dict[str, FileNode] = {}  # directory path -> node: members mostly follow their parent
    for member in reader:
        name = clean_path(member.name)
        if name == ".":
            continue
        checksum = 0
        if member.type in _REGULAR_TYPES and member.size:
            crc = _Crc32()
            reader.copy_data(crc.update)
            checksum = crc.value
        type_flag = member.type[0] if member.type else 0
        if type_flag == 0:  # Go's reader reports the old "\0" type as a regular file ('0')
            type_flag = 0x35 if member.name.endswith("/") else 0x30
        mode = go_file_mode(member.mode, type_flag)
        info = FileInfo(path=name, type_flag=type_flag, linkname=member.linkname, size=member.size, mode=mode,
                        uid=member.uid, gid=member.gid, is_dir=bool(mode & _MODE_DIR), checksum=checksum)
        tree.file_size += member.size
        tree.entries += 1
        _add_member(tree, parents, name, info)
        if on_member is not None:
            on_member(member.size)
    return tree


def _add_member(tree: FileTree, parents: dict[str, FileNode], name: str, info: FileInfo) -> None:
    """tree.add, with the parent directory's node remembered from the member before (a layer's
    tree loses no node while it is read, so a remembered node stays valid)."""
    directory, _, base = name.strip("/").rpartition("/")
    parent = parents.get(directory)
    if parent is None or base in ("", "..") or base.startswith(OPAQUE_PREFIX):
        node = tree.add(name, info)
        if node is not None and node.parent is not None:
            parents[directory] = node.parent
        return
    if parent.children is None:
        parent.children = {}
    node = parent.children.get(base)
    if node is None:
        node = parent.children[base] = FileNode(base, parent)
    node.info = info


class _Crc32:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: memoryview) -> None:
        self.value = zlib.crc32(data, self.value)


def clean_path(name: str) -> str:
    """Go's path.Clean: the shortest equivalent path ("." for empty), as dive names tar members."""
    # Already clean (the common case, checked in C): no empty, "." or ".." component and no
    # trailing slash; a "./" prefix alone is dropped. Anything else takes the general path.
    rest = name[2:] if name.startswith("./") else name
    if (rest and rest[0] != "." and rest[-1] != "/" and "//" not in rest and "/." not in rest
            and (rest is name or rest[0] != "/")):
        return rest
    rooted = name.startswith("/")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def go_file_mode(mode: int, type_flag: int) -> int:
    """The os.FileMode Go's tar reader gives a header (permissions, special bits, file type)."""
    result = mode & 0o777
    if mode & 0o4000:
        result |= _MODE_SETUID
    if mode & 0o2000:
        result |= _MODE_SETGID
    if mode & 0o1000:
        result |= _MODE_STICKY
    return result | _MODE_OF_KIND.get(mode & 0o170000, 0) | _MODE_OF_TYPE.get(type_flag, 0)


# The file type bits Go adds for the st_mode type bits of a header's mode, and for its type flag.
_MODE_OF_KIND = {0o040000: _MODE_DIR, 0o010000: _MODE_NAMED_PIPE, 0o120000: _MODE_SYMLINK,
                 0o060000: _MODE_DEVICE, 0o020000: _MODE_DEVICE | _MODE_CHAR_DEVICE, 0o140000: _MODE_SOCKET}
_MODE_OF_TYPE = {ord("2"): _MODE_SYMLINK, ord("3"): _MODE_DEVICE | _MODE_CHAR_DEVICE, ord("4"): _MODE_DEVICE,
                 ord("5"): _MODE_DIR, ord("6"): _MODE_NAMED_PIPE}
