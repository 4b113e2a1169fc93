"""RTLIL text before synthesis: one definition for every set of identical modules.

Amaranth's RTLIL backend writes one module per instance: the four lanes' adder trees
of a BT-LSTM are ``\\top.tree_x0`` ... ``\\top.tree_x3``, the same text under four
names, and Yosys and ABC then map each on its own. `merge_identical_modules` keeps the
first of each set of modules that are the same but for the order of their ports or their
names (a port named after the slice of the parent signal it carries: ``\\port$418$0`` in
one post-accumulation unit, ``\\port$418$52`` in the next), points every instance of the
others at it (their connections renamed port by port, by position), and repeats (two
parents that differed only in which copy of a child they instantiate become identical
in turn), so each distinct module is synthesized once. The hierarchy of instances is
unchanged: every instance keeps its name and path, so area, power and activity per
instance (`rtl.synth.Synthesis.instances`) are what they were, and ABC maps the one
definition exactly as it mapped each copy.

Modules holding a memory are left alone (a synthesis' memory inventory lists each memory
of a definition once).
"""

import hashlib
import re

__all__ = ["merge_identical_modules"]

#: a module: its attribute lines, its name, its body up to ``end``
_MODULE = re.compile(r"^((?:attribute [^\n]*\n)*)module (\S+)\n(.*?)^end\n", re.S | re.M)
_PORT = re.compile(r"^\s*wire (?:width \d+ )?(?:signed )?(?:input|output|inout) (\d+)\s+(\S+)\s*$", re.M)
_POSITION = re.compile(r"((?:input|output|inout)) \d+")
_MEMORY = re.compile(r"^\s*(?:memory |cell \$mem)", re.M)
_TOKEN = re.compile(r"\S+")


def _ports(body):
    """``{port name: position}`` of a module body."""
    return {name: int(index) for index, name in _PORT.findall(body)}


def _by_position(body, ports):
    """The body with every port named by its position: equal for modules that differ only in port names."""
    return _TOKEN.sub(lambda m: f"\\<port {ports[m.group(0)]}>" if m.group(0) in ports else m.group(0), body)


def _by_name(body):
    """The body with its port declarations sorted and their positions dropped: equal for modules that differ
    only in the order of their ports (connections are by name)."""
    decls = sorted(_POSITION.sub(r"\1", m.group(0)) for m in _PORT.finditer(body))
    return "".join(decls) + _PORT.sub("", body)


def _repoint(text, rename, port_maps):
    """Point every cell of a type in ``rename`` at the kept module, its ``connect`` lines renamed through
    ``port_maps[type]`` (removed module's port name -> kept module's)."""
    out, current = [], None
    for line in text.splitlines(keepends=True):
        words = line.split()
        if len(words) == 3 and words[0] == "cell" and words[1] in rename:
            current = port_maps[words[1]]
            line = line.replace(f"cell {words[1]} ", f"cell {rename[words[1]]} ", 1)
        elif current is not None:
            if words[:1] == ["connect"] and len(words) >= 3 and words[1] in current:
                line = line.replace(f"connect {words[1]} ", f"connect {current[words[1]]} ", 1)
            elif words == ["end"]:
                current = None
        out.append(line)
    return "".join(out)


def merge_identical_modules(text, top="top"):
    """``(text, merged)``: ``text`` (RTLIL) with every module equal to an earlier one up to port names removed
    and its instances pointed at that one; ``merged`` maps each removed name to the name kept. The top module
    (``\\<top>``) is never removed."""
    top = "\\" + top
    merged = {}
    while True:
        seen, rename, port_maps = {}, {}, {}
        modules = _MODULE.findall(text)
        ports = {name: _ports(body) for _, name, body in modules}
        for _attrs, name, body in modules:
            if name == top or _MEMORY.search(body):
                continue
            named = ("name", hashlib.sha256(_by_name(body).encode()).hexdigest())
            placed = ("position", hashlib.sha256(_by_position(body, ports[name]).encode()).hexdigest())
            if named in seen:  # the same ports by name (perhaps in another order)
                rename[name] = seen[named]
                port_maps[name] = {}
            elif placed in seen:  # the same ports by position under other names
                kept = seen[placed]
                by_position = {i: p for p, i in ports[kept].items()}
                rename[name] = kept
                port_maps[name] = {p: by_position[i] for p, i in ports[name].items()}
            else:
                seen[named] = seen[placed] = name
        if not rename:
            return text, merged
        for name, kept in list(merged.items()):  # earlier merges into a module now merged away
            merged[name] = rename.get(kept, kept)
        merged.update(rename)
        text = _MODULE.sub(lambda m: "" if m.group(2) in rename else m.group(0), text)
        text = _repoint(text, rename, port_maps)
