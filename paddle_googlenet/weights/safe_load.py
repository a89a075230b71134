"""Read weights, optimizer state and checkpoints as data, never as code.

``paddle.save`` writes a pickle, and a pickle is a small program: ``pickle.load``
calls whatever functions the file names. Even the NumPy functions an allowlist would
have to admit for arrays (``numpy.dtype``, ``ndarray.__setstate__``, ``scalar``,
``_reconstruct``) rebuild objects from bytes the file chose without checking them: an
object dtype turns eight bytes into a pointer, a struct field reads past its item, a
shape claims gigabytes the file does not hold. So no file is unpickled here. ``load``
interprets the opcodes itself, one at a time and without recursion, and knows a
global only as a *name* from a fixed table; nothing the file names is ever called:

* ``numpy(._core|.core).multiarray._reconstruct(numpy.ndarray, (0,), b"b")`` followed
  by ``BUILD (1, shape, dtype, fortran_order, data)`` is an array. Its dtype must come
  from ``PLAIN_DTYPES`` and its data must be exactly ``prod(shape) * itemsize`` bytes
  of the file; the array is those bytes, read once into memory of its own.
* ``numpy.dtype(code, False, True)`` followed by ``BUILD (3, byteorder, None, None,
  None, -1, -1, 0)`` is one of ``PLAIN_DTYPES``; ``...multiarray.scalar(dtype, data)``
  a NumPy scalar of one.
* ``tuple``, ``list``, ``dict``, ``set``, ``frozenset``, ``collections.OrderedDict``,
  ``bytes()`` and ``_codecs.encode(text, "latin1")`` (how protocol 2 stores bytes)
  build what their names say, from the arguments Python's pickler writes for them.

Anything else (another global, an opcode ``paddle.save`` never writes, one of these
names with other arguments) is a WeightsError naming the file, the byte offset and
the opcode. Limits are checked before anything is allocated: no length may reach
past the end of the file, all arrays together hold at most the file's own bytes,
containers nest at most ``MAX_DEPTH`` deep, and a memo reference may name a container
only if it is a tuple of plain values, so that no file builds a graph that grows when
walked. Only regular files are opened (a FIFO would block, a device never end).

What ``load`` returns is plain data with NumPy arrays where the file had tensors:
``paddle.save``'s ``(name, array)`` tensor tuples become arrays, and the bookkeeping
keys of a saved state dict (the parameter name table, tensors split into slices below
1 GB for protocols 2 and 3) are undone as ``paddle.load`` undoes them. A
``.safetensors`` file (recognised by its content, whatever its name) holds nothing but
tensors. It is read here too, with plain reads rather than a memory map (a file cut
while mapped kills the process with SIGBUS): the header's size, nesting, counts and
metadata are bounded before it is parsed (``MAX_SAFETENSORS_*``), the tensors must
tile the data exactly, and each is read into an array of its own.

A refusal shows what the file holds through ``errors.brief``: a few dozen characters,
escaped, never the repr of a whole value.

This module imports neither Paddle nor anything of the project but its leaves.
"""

import codecs
import collections
import json
import os
import pickletools
import re
import stat
import struct
import sys

import numpy as np

from ..errors import WeightsError, brief, shown

__all__ = ["load", "read_pickle", "is_safetensors", "brief", "PLAIN_DTYPES",
           "SAFETENSORS_DTYPES", "MAX_DEPTH", "MAX_DIMS", "NAME_TABLE", "SPLIT_TENSORS"]

# The dtype codes numpy.dtype's pickle names (kind and item size), and the only ones
# an array may have. Paddle stores bfloat16 tensors as uint16 ('u2').
PLAIN_DTYPES = {code: np.dtype(code) for code in (
    "b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")}

MAX_DEPTH = 64             # containers inside containers
MAX_DIMS = 32              # NumPy's own limit on an array's dimensions
MAX_DIM_SIZE = 1 << 40     # one dimension (an empty array may claim any shape)
MAX_MEMO = 1 << 22         # memo entries
MAX_OPCODES = 1 << 20      # a 13.4M-parameter state dict takes about 4,000
MAX_INT_BYTES = 64         # LONG1/LONG4 payloads: no number needs more
MAX_NAME = 256             # a module or attribute name in GLOBAL
# Text is tensor data only in protocol 2 (latin-1, one byte a character); a longer text
# with wider characters would take up to four times its bytes in memory.
MAX_WIDE_TEXT = 1 << 20
MAX_TEXT_GROWTH = 128 << 20  # what all texts may take in memory beyond their bytes
# Bytes values (not tensor data) are a copy of what the file read, which the memo keeps
# too; paddle.save writes only short ones.
MAX_PLAIN_BYTES = 128 << 20
# This machine's memory: no single read may ask for more (a sparse file can claim it).
_MEMORY = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

# A .safetensors header. The safetensors crate refuses headers over 100,000,000 bytes
# (HeaderTooLarge) and parses with serde_json, which stops at 128 levels of nesting; it
# sets no limit on tensors or metadata. The format needs 3 levels ({name: {"shape":
# [...]}}), so that is the depth admitted here, and the counts below bound what the
# parsed header costs (a few hundred bytes of Python objects per item).
MAX_SAFETENSORS_HEADER = 100_000_000
MAX_SAFETENSORS_DEPTH = 3
MAX_SAFETENSORS_TENSORS = 1 << 16   # a GoogLeNet state dict has 128
MAX_SAFETENSORS_STRINGS = 6 * MAX_SAFETENSORS_TENSORS  # 5 a tensor, and some metadata
MAX_SAFETENSORS_ITEMS = 1 << 21     # keys and values of the whole header
MAX_SAFETENSORS_METADATA = 1 << 20  # characters of __metadata__ keys and values

NAME_TABLE = "StructuredToParameterName@@"
SPLIT_TENSORS = "UnpackBigParamInfor@@"  # sic: the key paddle.save writes
_OPCODE_NAMES = {op.code.encode("latin-1"): op.name for op in pickletools.opcodes}


class _Refused(Exception):
    """The file is not data this reader admits: why, where and at which opcode."""

    def __init__(self, reason: str, offset: int = None, opcode: bytes = b""):
        super().__init__(reason)
        self.offset, self.opcode = offset, opcode

    def where(self) -> str:
        if not self.opcode:
            return f"at byte {self.offset}"
        return f"at byte {self.offset} ({_OPCODE_NAMES.get(self.opcode, '0x' + self.opcode.hex())})"


# ------------------------------------------------------------------ values on the stack
# Besides plain values, the stack holds these; none may end up inside what ``load``
# returns except as the array or bytes it stands for.

class _Name:
    """A global the file names, from the table below: a name, never the object."""
    __slots__ = ("qualified",)

    def __init__(self, qualified: str):
        self.qualified = qualified


_RECONSTRUCT, _SCALAR, _NDARRAY, _DTYPE, _ENCODE, _BYTES = (
    _Name(n) for n in ("numpy _reconstruct", "numpy scalar", "numpy.ndarray", "numpy.dtype",
                       "_codecs.encode", "builtins.bytes"))
_TYPES = {name: _Name(f"builtins.{name}") for name in ("tuple", "list", "dict", "set", "frozenset")}
_ORDERED_DICT = _Name("collections.OrderedDict")
_GLOBALS = {("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): _DTYPE,
            ("_codecs", "encode"): _ENCODE, ("collections", "OrderedDict"): _ORDERED_DICT}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # NumPy 1 and 2
    _GLOBALS[(_module, "_reconstruct")] = _RECONSTRUCT
    _GLOBALS[(_module, "scalar")] = _SCALAR
for _module in ("builtins", "__builtin__"):  # __builtin__: the names protocol 2 uses
    _GLOBALS[(_module, "bytes")] = _BYTES
    _GLOBALS.update({(_module, name): marker for name, marker in _TYPES.items()})
_CONTAINER_TYPES = {_TYPES["tuple"]: tuple, _TYPES["list"]: list, _TYPES["dict"]: dict,
                    _TYPES["set"]: set, _TYPES["frozenset"]: frozenset,
                    _ORDERED_DICT: collections.OrderedDict}


class _Raw:
    """Bytes from the file, held as a uint8 array so that an array can be a view of them."""
    __slots__ = ("data", "used")

    def __init__(self, data: np.ndarray):
        self.data, self.used = data, False


class _Dtype:
    """``numpy.dtype(code, ...)`` before and after its BUILD."""
    __slots__ = ("dtype", "built")

    def __init__(self, dtype: np.dtype):
        self.dtype, self.built = dtype, False


class _Array:
    """``_reconstruct(ndarray, (0,), b"b")``: an array waiting for its BUILD."""
    __slots__ = ("array",)

    def __init__(self):
        self.array = None


class _LongText:
    """A text of more than ``MAX_WIDE_TEXT`` bytes, kept as the file's bytes: only
    protocol 2's tensor data is that long, and it becomes bytes (latin-1) without ever
    being a str, which would be a second copy of it."""
    __slots__ = ("data", "chars", "widest", "shared")

    def __init__(self, data: np.ndarray, chars: int, widest: int):
        # chars, widest: UTF-8 characters and largest byte (latin-1: bytes and 0)
        self.data, self.chars, self.widest, self.shared = data, chars, widest, False


_SPECIAL = (_Name, _Raw, _Dtype, _Array, _LongText)
_LEAVES = (type(None), bool, int, float, complex, str, bytes, np.ndarray, np.generic)


def _hashable_key(key) -> bool:
    # Strings hash with a random seed; small ints hash to themselves. Other keys (floats,
    # big ints, tuples) can be chosen to collide and turn a dict into quadratic work.
    return type(key) is str or (type(key) in (int, bool) and -(1 << 60) < key < 1 << 60) \
        or key is None


class _Interpreter:
    """Runs the opcodes of one pickle; see the module docstring for what it admits."""

    def __init__(self, f, size: int):
        self.f, self.size, self.pos = f, size, 0
        self.stack, self.marks, self.memo = [], [], {}
        self.depths = {}      # id(container) -> how deep containers nest inside it
        self.impure = set()   # ids of tuples holding _SPECIAL values (call arguments)
        self.array_bytes = 0  # bytes of every array built or referenced again
        self.made_bytes = 0   # bytes made again from text or bytes already made once
        self.text_growth = 0  # memory texts take beyond their bytes (wide characters)
        self.plain_bytes = 0  # bytes of the bytes values made
        self.converted = set()  # ids of the texts and bytes made into bytes once
        self.shared_items = 0  # items of tuples referenced again

    # ---------------------------------------------------------------- reading
    def check_remaining(self, n: int):
        """Refuse a length reaching past the end of the file, before allocating it."""
        if n > self.size - self.pos:
            raise _Refused(f"the file ends {self.size - self.pos} bytes later, before the "
                           f"{n} this opcode reads (truncated or corrupt)")
        if n > _MEMORY:
            raise _Refused(f"a length of {n} bytes, more than this machine's memory")

    def read(self, n: int) -> bytes:
        self.check_remaining(n)
        data = self.f.read(n)
        if len(data) != n:
            raise _Refused("the file ended while it was read (it changed or is truncated)")
        self.pos += n
        return data

    def read_raw(self, n: int) -> _Raw:
        self.check_remaining(n)
        data = np.empty(n, np.uint8)
        if n and self.f.readinto(data) != n:
            raise _Refused("the file ended while it was read (it changed or is truncated)")
        self.pos += n
        return _Raw(data)

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def line(self) -> str:
        text = bytearray()
        while (c := self.read(1)) != b"\n":
            text += c
            if len(text) > MAX_NAME:
                raise _Refused(f"a name longer than {MAX_NAME} characters")
        return text.decode("ascii", "replace")

    # ---------------------------------------------------------------- stack
    def pop_mark(self) -> list:
        if not self.marks:
            raise _Refused("no MARK to end")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def top(self, *types):
        if (len(self.stack) <= (self.marks[-1] if self.marks else 0)
                or not isinstance(self.stack[-1], types)):
            raise _Refused("not applied to the object it needs")
        return self.stack[-1]

    def pop(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise _Refused("the stack is empty")
        return self.stack.pop()

    def memo_put(self, index: int):
        if not self.stack:
            raise _Refused("the stack is empty")
        if index not in self.memo and len(self.memo) >= MAX_MEMO:
            raise _Refused(f"more than {MAX_MEMO} memo entries")
        self.memo[index] = self.stack[-1]

    def memo_get(self, index: int):
        try:
            value = self.memo[index]
        except KeyError:
            raise _Refused(f"memo entry {index} was never stored") from None
        if isinstance(value, _Array):
            if value.array is None:
                raise _Refused("refers to an array before it is built")
            value = value.array
        if isinstance(value, np.ndarray):
            self.count_array_bytes(value.nbytes)
        elif type(value) is tuple:
            if id(value) in self.impure or not all(isinstance(v, _LEAVES) for v in value):
                raise _Refused("refers again to a tuple holding containers (a shared "
                               "container could make the data grow without bound)")
            self.count_array_bytes(sum(v.nbytes for v in value if isinstance(v, np.ndarray)))
            self.shared_items += len(value)
            if self.shared_items > MAX_OPCODES:
                raise _Refused(f"refers again to tuples holding more than {MAX_OPCODES} "
                               f"items in all (a walk over the data would grow past the file)")
        elif not isinstance(value, (_LEAVES, _Name, _Raw, _Dtype, _LongText)):
            raise _Refused(f"refers again to a {type(value).__name__} (a shared container "
                           f"could make the data grow without bound)")
        self.stack.append(value)

    def count_array_bytes(self, n: int):
        self.array_bytes += n
        if self.array_bytes > self.size:
            raise _Refused(f"its arrays would hold {self.array_bytes} bytes, more than the "
                           f"file's {self.size}: arrays are made only of the file's own bytes")

    def made_bytes_of(self, source, n: int):
        """Count ``n`` bytes made from ``source``: the first time is the file's own bytes
        (memo entries keep ``source`` alive, so its id stays its own); each time after
        makes new ones, and all of those together may not exceed the file."""
        if id(source) not in self.converted:
            self.converted.add(id(source))
            return
        self.count_copy(n)

    def count_copy(self, n: int):
        self.made_bytes += n
        if self.made_bytes > self.size:
            raise _Refused(f"it would make {self.made_bytes} bytes of copies of bytes it "
                           f"already made, more than the file's {self.size}")

    # ---------------------------------------------------------------- containers
    def plain(self, value):
        """``value`` as it may stand inside a container or be returned."""
        if isinstance(value, _Raw):
            self.made_bytes_of(value, value.data.nbytes)
            self.plain_bytes += value.data.nbytes
            if self.plain_bytes > MAX_PLAIN_BYTES:
                raise _Refused(f"its bytes values hold {self.plain_bytes} bytes, more than "
                               f"{MAX_PLAIN_BYTES} (only tensor data is that large)")
            return value.data.tobytes()
        if isinstance(value, _Array) and value.array is not None:
            return value.array
        if isinstance(value, _SPECIAL):
            raise _Refused(f"puts a {_describe(value)} where data belongs")
        if type(value) is tuple and id(value) in self.impure:
            # (b"...",) from protocol 3+: rebuilt with its bytes; nesting is bounded
            return self.tuple_of([self.plain(v) for v in value])
        return value

    def nest(self, container, item):
        depth = self.depths.get(id(item), 0) + 1
        if depth > MAX_DEPTH:
            raise _Refused(f"containers nest more than {MAX_DEPTH} deep")
        if depth > self.depths.get(id(container), 0):
            self.depths[id(container)] = depth

    def tuple_of(self, items: list):
        # paddle.save writes a tensor inside a container as (name, array), and
        # paddle.load returns any such pair as the tensor: so does this reader.
        if len(items) == 2 and type(items[0]) is str and type(items[1]) is np.ndarray:
            return items[1]
        result = tuple(items)
        self.forget(result)
        if any(isinstance(v, _SPECIAL) or id(v) in self.impure for v in items):
            self.impure.add(id(result))
        for item in items:
            self.nest(result, item)
        return result

    def forget(self, container):
        """Drop what was recorded under ``container``'s id for an object since freed."""
        self.depths.pop(id(container), None)
        self.impure.discard(id(container))

    def new_container(self, kind, items=()):
        container = kind()
        self.forget(container)
        self.add_items(container, list(items))
        return container

    def add_items(self, container, items: list):
        if type(container) is list:
            for item in items:
                item = self.plain(item)
                self.nest(container, item)
                container.append(item)
        elif isinstance(container, dict):
            if len(items) % 2:
                raise _Refused("an odd number of items for a dict")
            for key, value in zip(items[::2], items[1::2]):
                if not _hashable_key(key):
                    raise _Refused(f"a dict key of type {type(key).__name__} (keys are "
                                   f"strings or small integers)")
                value = self.plain(value)
                self.nest(container, value)
                container[key] = value
        elif type(container) is set:
            for item in items:
                if not _hashable_key(item):
                    raise _Refused(f"a set item of type {type(item).__name__} (items are "
                                   f"strings or small integers)")
            container.update(items)
        else:
            raise _Refused(f"adds items to a {_describe(container)}")

    # ---------------------------------------------------------------- calls
    def reduce(self, callee, args):
        if not isinstance(callee, _Name):
            raise _Refused(f"calls a {_describe(callee)}")
        if type(args) is not tuple:
            raise _Refused(f"calls {callee.qualified} with {_describe(args)} as arguments")
        if callee in _CONTAINER_TYPES:
            kind = _CONTAINER_TYPES[callee]
            if args == ():
                return self.tuple_of([]) if kind is tuple else self.new_container(kind)
            if kind is tuple and len(args) == 1 and type(args[0]) is np.ndarray:
                return args[0]  # paddle.save's tuple((name, array)), already an array
            if len(args) == 1 and type(args[0]) in (list, tuple):
                items = list(args[0])
                if kind is tuple:
                    return self.tuple_of([self.plain(v) for v in items])
                if kind in (dict, collections.OrderedDict):
                    if not all(type(p) is tuple and len(p) == 2 for p in items):
                        raise _Refused(f"{callee.qualified} of something other than pairs")
                    items = [x for pair in items for x in pair]
                if kind is frozenset:
                    return frozenset(self.new_container(set, items))
                return self.new_container(kind, items)
        elif callee is _RECONSTRUCT:
            if (len(args) == 3 and args[0] is _NDARRAY and args[1] == (0,)
                    and _raw_equals(args[2], b"b")):
                return _Array()
        elif callee is _DTYPE:
            if (len(args) == 3 and type(args[0]) is str and args[1] in (False, 0)
                    and args[2] in (True, 1)):
                if args[0] not in PLAIN_DTYPES:
                    raise _Refused(f"an array of dtype {args[0]!r}; only plain numbers are "
                                   f"tensors: {', '.join(PLAIN_DTYPES)}")
                return _Dtype(PLAIN_DTYPES[args[0]])
        elif callee is _SCALAR:
            if len(args) == 2 and isinstance(args[0], _Dtype) and args[0].built:
                dtype, raw = args[0].dtype, _as_raw(args[1])
                if raw is not None and raw.data.nbytes == dtype.itemsize:
                    return raw.data.view(dtype)[0]
        elif callee is _ENCODE:
            if (len(args) in (1, 2) and isinstance(args[0], (str, _LongText))
                    and (len(args) == 1 or args[1] in ("latin1", "latin-1"))):
                self.made_bytes_of(args[0], len(args[0]) if type(args[0]) is str
                                   else args[0].data.nbytes)
                return _latin1_raw(args[0])
        elif callee is _BYTES:
            if args == ():
                return _Raw(np.empty(0, np.uint8))
        raise _Refused(f"calls {callee.qualified} with arguments paddle.save never writes")

    def build(self, target, state):
        if isinstance(target, _Dtype) and not target.built and type(state) is tuple:
            # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
            if (len(state) in (8, 9) and state[0] in (3, 4) and type(state[1]) is str
                    and len(state[1]) == 1 and state[1] in "<>|=" and state[2:5] == (None, None, None)
                    and state[5:8] == (-1, -1, 0) and state[8:] in ((), (None,))):
                target.built = True
                if state[1] == ">":
                    target.dtype = target.dtype.newbyteorder(">")
                return target
            raise _Refused("a dtype with fields, a sub-array or flags (only plain numbers "
                           "are tensors)")
        if isinstance(target, _Array) and target.array is None and type(state) is tuple:
            if len(state) == 5 and state[0] == 1:
                target.array = self.array(*state[1:])
                return target.array
            raise _Refused("an array state other than (1, shape, dtype, order, data)")
        if isinstance(target, (np.ndarray, _Dtype, _Array)):
            raise _Refused(f"a second BUILD on one {_describe(target)} (NumPy would free "
                           f"memory that other values still use)")
        raise _Refused(f"sets the state of a {_describe(target)} (only new arrays and dtypes "
                       f"have one)")

    def array(self, shape, dtype, fortran, data) -> np.ndarray:
        if (type(shape) is not tuple or len(shape) > MAX_DIMS
                or not all(type(n) is int and 0 <= n <= MAX_DIM_SIZE for n in shape)):
            raise _Refused(f"an array shape that is not a tuple of at most {MAX_DIMS} "
                           f"counts: {_describe(shape)}")
        if not isinstance(dtype, _Dtype) or not dtype.built:
            raise _Refused(f"an array whose dtype is a {_describe(dtype)}")
        if fortran not in (True, False, 0, 1):
            raise _Refused("an array order that is not a flag")
        raw = _as_raw(data)
        if raw is None:
            raise _Refused(f"an array whose data is a {_describe(data)}")
        count = 1
        for n in shape:
            count *= n
        nbytes = count * dtype.dtype.itemsize
        if nbytes != raw.data.nbytes:
            raise _Refused(f"an array of shape {shape} and dtype {dtype.dtype} needs {nbytes} "
                           f"bytes but its data holds {raw.data.nbytes}")
        self.count_array_bytes(nbytes)
        data = raw.data.copy() if raw.used else raw.data  # bytes shared by two arrays
        raw.used = True
        array = data.view(dtype.dtype).reshape(shape, order="F" if fortran else "C")
        if dtype.dtype.byteorder == ">":
            # A copy: the file's bytes may serve another array, read in another order.
            self.count_copy(nbytes)
            array = array.byteswap().view(array.dtype.newbyteorder("="))
        return array

    # ---------------------------------------------------------------- opcodes
    # One method per opcode paddle.save writes, named as pickletools names it.
    def PROTO(self):
        if self.pos != 1:
            raise _Refused("a PROTO after the first byte")
        if self.read(1)[0] not in (2, 3, 4):
            raise _Refused("a pickle protocol other than 2, 3 or 4")

    def FRAME(self):  # a hint for buffering: only its length is checked
        if self.unpack("<Q") > self.size - self.pos:
            raise _Refused("a frame longer than the rest of the file")

    def MARK(self):
        if len(self.marks) >= 2 * MAX_DEPTH:
            raise _Refused(f"MARKs nest more than {2 * MAX_DEPTH} deep")
        self.marks.append(len(self.stack))

    def POP(self):
        self.pop()

    def POP_MARK(self):
        self.pop_mark()

    def NONE(self):
        self.stack.append(None)

    def NEWTRUE(self):
        self.stack.append(True)

    def NEWFALSE(self):
        self.stack.append(False)

    def BININT1(self):
        self.stack.append(self.read(1)[0])

    def BININT2(self):
        self.stack.append(self.unpack("<H"))

    def BININT(self):
        self.stack.append(self.unpack("<i"))

    def long(self, n: int):
        if not 0 <= n <= MAX_INT_BYTES:
            raise _Refused(f"an integer of {n} bytes (at most {MAX_INT_BYTES})")
        self.stack.append(int.from_bytes(self.read(n), "little", signed=True))

    def LONG1(self):
        self.long(self.read(1)[0])

    def LONG4(self):
        self.long(self.unpack("<i"))

    def BINFLOAT(self):
        self.stack.append(self.unpack(">d"))

    def text(self, n: int, encoding: str):
        if n < 0:
            raise _Refused("a negative length")
        if n > MAX_WIDE_TEXT:
            data = self.read_raw(n).data
            chars, widest = _utf8_counts(data) if encoding == "utf-8" else (n, 0)
            # UTF-8 lead bytes from 0xC4 start characters past latin-1 (U+0100 and up)
            if widest >= 0xC4:
                raise _Refused(f"a text of {n} bytes with characters beyond latin-1 (a "
                               f"text longer than {MAX_WIDE_TEXT} bytes can only be "
                               f"protocol 2's tensor data, which is latin-1)")
            self.stack.append(_LongText(data, chars, widest))
            return
        data = self.read(n)
        text = data.decode(encoding, "surrogatepass")
        # One wide character makes Python store every character of a text in 2 or 4 bytes.
        self.text_growth += max(0, sys.getsizeof(text) - n - 80)
        if self.text_growth > MAX_TEXT_GROWTH:
            raise _Refused(f"its texts would take {self.text_growth} bytes more than the "
                           f"file's bytes of them (at most {MAX_TEXT_GROWTH})")
        self.stack.append(text)

    def SHORT_BINUNICODE(self):
        self.text(self.read(1)[0], "utf-8")

    def BINUNICODE(self):
        self.text(self.unpack("<I"), "utf-8")

    def BINUNICODE8(self):
        self.text(self.unpack("<Q"), "utf-8")

    def SHORT_BINSTRING(self):  # Python 2 text, read as latin-1 as paddle.load does
        self.text(self.read(1)[0], "latin-1")

    def BINSTRING(self):
        self.text(self.unpack("<i"), "latin-1")

    def SHORT_BINBYTES(self):
        self.stack.append(self.read_raw(self.read(1)[0]))

    def BINBYTES(self):
        self.stack.append(self.read_raw(self.unpack("<I")))

    def BINBYTES8(self):
        self.stack.append(self.read_raw(self.unpack("<Q")))

    def EMPTY_TUPLE(self):
        self.stack.append(self.tuple_of([]))

    def tuple_n(self, n: int):
        if len(self.stack) - (self.marks[-1] if self.marks else 0) < n:
            raise _Refused("the stack is empty")
        items = self.stack[-n:]
        del self.stack[-n:]
        self.stack.append(self.tuple_of(items))

    def TUPLE1(self):
        self.tuple_n(1)

    def TUPLE2(self):
        self.tuple_n(2)

    def TUPLE3(self):
        self.tuple_n(3)

    def TUPLE(self):
        self.stack.append(self.tuple_of(self.pop_mark()))

    def EMPTY_LIST(self):
        self.stack.append(self.new_container(list))

    def EMPTY_DICT(self):
        self.stack.append(self.new_container(dict))

    def EMPTY_SET(self):
        self.stack.append(self.new_container(set))

    def APPEND(self):
        item = self.pop()
        self.add_items(self.top(list), [item])

    def APPENDS(self):
        items = self.pop_mark()
        self.add_items(self.top(list), items)

    def SETITEM(self):
        value, key = self.pop(), self.pop()
        self.add_items(self.top(dict), [key, value])

    def SETITEMS(self):
        items = self.pop_mark()
        self.add_items(self.top(dict), items)

    def ADDITEMS(self):
        items = self.pop_mark()
        self.add_items(self.top(set), items)

    def FROZENSET(self):
        self.stack.append(frozenset(self.new_container(set, self.pop_mark())))

    def BINPUT(self):
        self.memo_put(self.read(1)[0])

    def LONG_BINPUT(self):
        self.memo_put(self.unpack("<I"))

    def MEMOIZE(self):
        self.memo_put(len(self.memo))

    def BINGET(self):
        self.memo_get(self.read(1)[0])

    def LONG_BINGET(self):
        self.memo_get(self.unpack("<I"))

    def global_(self, module, name):
        if type(module) is not str or type(name) is not str:
            raise _Refused("a global named by something other than text")
        try:
            self.stack.append(_GLOBALS[(module, name)])
        except KeyError:
            raise _Refused(
                f"the file asks for {shown(module)}.{shown(name)}, which is no tensor or "
                f"plain data (a pickle can run code, so only arrays and plain containers "
                f"are read; a .safetensors file holds nothing else)") from None

    def GLOBAL(self):
        module = self.line()
        self.global_(module, self.line())

    def STACK_GLOBAL(self):
        name, module = self.pop(), self.pop()
        self.global_(module, name)

    def REDUCE(self):
        args = self.pop()
        self.stack.append(self.reduce(self.pop(), args))

    def BUILD(self):
        state = self.pop()
        self.stack[-1] = self.build(self.top(object), state)

    # ---------------------------------------------------------------- the loop
    def run(self):
        handlers = {op.code.encode("latin-1"): getattr(self, op.name)
                    for op in pickletools.opcodes if hasattr(self, op.name)}
        stack, read = self.stack, self.read
        for _ in range(MAX_OPCODES):
            offset, code = self.pos, b""
            try:
                code = read(1)
                if code == b".":  # STOP
                    if len(stack) != 1 or self.marks:
                        raise _Refused("the pickle ends with other than one object")
                    return self.plain(stack[0])
                handler = handlers.get(code)
                if handler is None:
                    raise _Refused("an opcode paddle.save never writes"
                                   if code in _OPCODE_NAMES else "a byte that is no opcode")
                handler()
            except (TypeError, ValueError, OverflowError, IndexError, KeyError,
                    struct.error) as err:  # a value of the wrong kind where one is compared
                raise _Refused(f"malformed ({type(err).__name__}: {shown(str(err)[:200])})",
                               offset, code) from None
            except MemoryError:
                raise _Refused("it asks for more memory than this machine has", offset,
                               code) from None
            except _Refused as refused:
                refused.offset, refused.opcode = offset, code
                raise
        raise _Refused(f"more than {MAX_OPCODES} opcodes", self.pos, b"")


def _describe(value) -> str:
    if isinstance(value, _Name):
        return value.qualified
    kinds = {_Raw: "bytes object", _Dtype: "dtype", _Array: "array", np.ndarray: "array",
             _LongText: f"text of more than {MAX_WIDE_TEXT} bytes (only tensor data is)"}
    return kinds.get(type(value), type(value).__name__)


def _as_raw(value):
    """Array data as the file gives it: bytes, or latin-1 text in Python 2 pickles."""
    if isinstance(value, _Raw):
        return value
    if isinstance(value, (str, _LongText)):
        return _latin1_raw(value)
    return None


def _utf8_counts(data) -> tuple:
    """Characters (bytes that are not UTF-8 continuation bytes) and the largest byte of
    ``data`` (bytes or a uint8 array), counted in slices to bound the temporaries."""
    data = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
    chars, widest = 0, 0
    for start in range(0, data.size, 1 << 20):
        chunk = data[start:start + (1 << 20)]
        chars += int(np.count_nonzero((chunk & 0xC0) != 0x80))
        widest = max(widest, int(chunk.max()))
    return chars, widest


def _long_text_latin1(text: _LongText) -> np.ndarray:
    """The latin-1 bytes of a long text, decoded a slice at a time (never one str)."""
    data = text.data
    if text.widest < 0x80:  # ASCII, or latin-1 already: the text's bytes are the result
        if text.shared:
            return data.copy()
        text.shared = True
        return data
    decoded, done = np.empty(text.chars, np.uint8), 0
    decoder, step = codecs.getincrementaldecoder("utf-8")(), 1 << 23
    for start in range(0, data.size + 1, step):
        piece = decoder.decode(memoryview(data[start:start + step]),
                               final=start + step > data.size).encode("latin-1")
        decoded[done:done + len(piece)] = np.frombuffer(piece, np.uint8)
        done += len(piece)
    return decoded


def _latin1_raw(text) -> _Raw:
    if isinstance(text, _LongText):
        return _Raw(_long_text_latin1(text))
    try:  # encoded straight into writable memory: one copy of the text's size
        return _Raw(np.frombuffer(bytearray(text, "latin-1"), np.uint8))
    except UnicodeEncodeError:
        raise _Refused("bytes stored as text outside latin-1") from None


def _raw_equals(value, expected: bytes) -> bool:
    if type(value) is str:
        return value == expected.decode("latin-1")
    return (isinstance(value, _Raw) and value.data.nbytes == len(expected)
            and value.data.tobytes() == expected)


# ------------------------------------------------------------------ files

def is_safetensors(head: bytes) -> bool:
    """Whether a file starting with ``head`` (at least 9 bytes) is a safetensors file:
    an 8-byte little-endian header length followed by a JSON object."""
    return len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] > 1


def _open_regular(path: str):
    """``path`` opened for reading, and its size; anything but a regular file is refused
    by name (opening a FIFO would wait for a writer, a device never ends)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise WeightsError(f"{shown(path)}: cannot be read ({err.strerror or err})") from None
    except ValueError:  # a NUL in the path
        raise WeightsError(f"{shown(path)}: cannot be read (a path holds no NUL "
                           f"character)") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = ("a directory" if stat.S_ISDIR(info.st_mode) else
                "a FIFO" if stat.S_ISFIFO(info.st_mode) else
                "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise WeightsError(f"{shown(path)}: is {kind}, not a weights file; give the path of "
                           f"a .pdparams or .safetensors file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), info.st_size


def read_pickle(f, size: int, where: str):
    """The object the pickle in ``f`` (``size`` bytes) holds, read as the module
    docstring describes; WeightsError naming ``where``, the offset and the opcode."""
    try:
        obj = _Interpreter(f, size).run()
    except _Refused as refused:
        raise WeightsError(f"{where}: refused {refused.where()}: {refused}") from None
    return _join_split_tensors(obj, where)


def load(path: str):
    """The contents of ``path`` (a ``paddle.save`` pickle or a safetensors file) as
    plain data with NumPy arrays for tensors. Raises WeightsError for a missing,
    unreadable or irregular file, and for anything the module docstring does not admit."""
    where = shown(path)
    f, size = _open_regular(path)
    with f:
        try:
            head = f.read(9)
            if is_safetensors(head):
                return _load_safetensors(path, f, size)
            if not head.startswith(b"\x80"):  # every pickle paddle.save writes (protocol 2-4)
                raise WeightsError(f"{where}: not a file written by paddle.save (nor a "
                                   f".safetensors file)")
            f.seek(0)
            return read_pickle(f, size, where)
        except OSError as err:
            raise WeightsError(f"{where}: cannot be read ({err.strerror or err})") from None


# safetensors dtypes NumPy holds, as dtype codes; BF16 is read as uint16, the way
# Paddle stores bfloat16. The others (F8_*, ...) cannot become arrays here.
SAFETENSORS_DTYPES = {"BOOL": "b1", "U8": "u1", "I8": "i1", "U16": "u2", "I16": "i2",
                      "U32": "u4", "I32": "i4", "U64": "u8", "I64": "i8", "F16": "f2",
                      "BF16": "u2", "F32": "f4", "F64": "f8", "C64": "c8"}
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"{}[]")
_TENSOR_FIELDS = {"dtype", "shape", "data_offsets"}


class _NotSafetensors(Exception):
    """Why a safetensors file is refused."""
    prefix = "not a readable .safetensors file: "


class _DtypeNotHeld(_NotSafetensors):
    """A well-formed file with a tensor of a dtype NumPy cannot hold."""
    prefix = ""


def _decoded_size(data: bytes) -> int:
    """The bytes Python needs for ``data`` decoded from UTF-8: its characters times 1, 2
    or 4 as the widest character needs."""
    chars, widest = _utf8_counts(data)
    return chars * (4 if widest >= 0xF0 else 2 if widest >= 0xC4 else 1)


def _check_header_shape(header: bytes):
    """Refuse, before parsing, a header whose nesting or item count the format never
    needs: the parsed objects cost far more than their bytes."""
    quotes = header.count(b'"')  # as many strings as half of these, at most
    if quotes > 2 * MAX_SAFETENSORS_STRINGS:
        raise _NotSafetensors(f"its header holds about {quotes // 2} strings; at most "
                              f"{MAX_SAFETENSORS_STRINGS} are read")
    structure = _JSON_STRING.sub(b'""', header)  # brackets in names are no structure
    objects, lists = structure.count(b"{"), structure.count(b"[")
    if objects > MAX_SAFETENSORS_TENSORS + 2 or lists > 2 * MAX_SAFETENSORS_TENSORS:
        raise _NotSafetensors(f"its header holds {objects} objects and {lists} lists; at "
                              f"most {MAX_SAFETENSORS_TENSORS} tensors are read")
    items = structure.count(b",") + structure.count(b":")
    if items > MAX_SAFETENSORS_ITEMS:
        raise _NotSafetensors(f"its header holds {items} items; at most "
                              f"{MAX_SAFETENSORS_ITEMS} are read")
    brackets = np.frombuffer(structure.translate(None, _NOT_BRACKETS), np.uint8)
    del structure
    opening = (brackets == ord("{")) | (brackets == ord("["))
    steps = np.where(opening, 1, -1).astype(np.int32)
    depth = int(np.cumsum(steps).max(initial=0))
    if depth > MAX_SAFETENSORS_DEPTH:
        raise _NotSafetensors(f"its header nests {depth} deep; the format needs "
                              f"{MAX_SAFETENSORS_DEPTH}")
    if _decoded_size(header) > MAX_SAFETENSORS_HEADER:
        raise _NotSafetensors("its header's text would take more than "
                              f"{MAX_SAFETENSORS_HEADER} bytes")


def _unique_keys(pairs):
    keys = {}
    for key, value in pairs:
        if key in keys:
            raise _NotSafetensors(f"its header names {brief(key)} twice")
        keys[key] = value
    return keys


def _check_metadata(metadata):
    # The crate reads __metadata__ as a map of text to text.
    if not isinstance(metadata, dict) or not all(
            type(k) is str and type(v) is str for k, v in metadata.items()):
        raise _NotSafetensors("its __metadata__ is not a map of text to text")
    size = sum(len(k) + len(v) for k, v in metadata.items())
    if size > MAX_SAFETENSORS_METADATA:
        raise _NotSafetensors(f"its __metadata__ holds {size} characters; at most "
                              f"{MAX_SAFETENSORS_METADATA} are read")


def _tensor_entry(name: str, info) -> tuple:
    """``(begin, end, dtype, shape)`` of one header entry, checked."""
    where = f"tensor {brief(name)}"
    if not isinstance(info, dict) or set(info) != _TENSOR_FIELDS:
        raise _NotSafetensors(f"{where} is not described by dtype, shape and data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if type(dtype) is not str or dtype not in SAFETENSORS_DTYPES:
        named = shown(dtype[:40]) if type(dtype) is str else brief(dtype)
        raise _DtypeNotHeld(
            f"{where} has dtype {named}, which this reader does not hold as an array; "
            f"convert it to one of {', '.join(SAFETENSORS_DTYPES)}")
    if (type(shape) is not list or len(shape) > MAX_DIMS
            or not all(type(n) is int and 0 <= n <= MAX_DIM_SIZE for n in shape)):
        raise _NotSafetensors(f"{where} has a shape that is not a list of at most "
                              f"{MAX_DIMS} sizes: {brief(shape)}")
    if (type(offsets) is not list or len(offsets) != 2
            or not all(type(n) is int and n >= 0 for n in offsets)
            or offsets[0] > offsets[1]):
        raise _NotSafetensors(f"{where} has data_offsets that are not [begin, end]")
    dtype = PLAIN_DTYPES[SAFETENSORS_DTYPES[dtype]]
    count = 1
    for n in shape:
        count *= n
    if offsets[1] - offsets[0] != count * dtype.itemsize:
        raise _NotSafetensors(f"{where} of shape {tuple(shape)} and dtype {dtype} needs "
                              f"{count * dtype.itemsize} bytes, its offsets give "
                              f"{offsets[1] - offsets[0]}")
    return offsets[0], offsets[1], dtype, tuple(shape)


def _read_safetensors(f, size: int) -> dict:
    f.seek(0)
    length = struct.unpack("<Q", f.read(8))[0]
    if length > MAX_SAFETENSORS_HEADER:
        raise _NotSafetensors(f"its header claims {length} bytes; the format allows "
                              f"{MAX_SAFETENSORS_HEADER}")
    if length > size - 8:
        raise _NotSafetensors(f"its header claims {length} bytes; the file has {size}")
    header = f.read(length)
    if len(header) != length:
        raise _NotSafetensors("the file ended while its header was read")
    _check_header_shape(header)
    try:
        header = json.loads(header, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise _NotSafetensors(f"its header is not JSON ({shown(str(err)[:100])})") from None
    if not isinstance(header, dict):
        raise _NotSafetensors("its header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None:  # null is no metadata, as the crate reads it
        _check_metadata(metadata)
    entries = sorted((_tensor_entry(name, info) + (name,) for name, info in header.items()),
                     key=lambda entry: entry[:2])
    del header
    data_size, position = size - 8 - length, 0
    for begin, end, _, _, name in entries:
        # The crate's own rule: the tensors tile the data exactly, no gap, no overlap.
        if begin != position:
            raise _NotSafetensors(f"tensor {brief(name)} starts at byte {begin} of the data, "
                                  f"not at {position} where the one before it ends")
        position = end
    if position != data_size:
        raise _NotSafetensors(f"its tensors hold {position} bytes of data, the file "
                              f"{data_size}")
    tensors = {}
    for begin, end, dtype, shape, name in entries:
        array = np.empty(shape, dtype)
        if end > begin and f.readinto(array.reshape(-1).view(np.uint8)) != end - begin:
            raise _NotSafetensors("the file ended while it was read (it changed or is "
                                  "truncated)")
        tensors[name] = array
    return tensors


def _load_safetensors(path: str, f, size: int) -> dict:
    """The tensors of a safetensors file, read with plain reads into arrays of their own
    (no memory map: a file cut while it is read is an error here, not a SIGBUS)."""
    try:
        return _read_safetensors(f, size)
    except _NotSafetensors as err:
        raise WeightsError(f"{shown(path)}: {err.prefix}{err}") from None
    except MemoryError:
        raise WeightsError(f"{shown(path)}: not a readable .safetensors file: its tensors "
                           f"need more memory than this machine has") from None


def _join_split_tensors(obj, where: str):
    """Undo what ``paddle.save`` does to a state dict: drop its parameter name table
    and join tensors it split into slices (protocols 2 and 3 cannot hold 4 GB). Each
    slice is released once copied, so the join needs one slice of extra memory."""
    if not isinstance(obj, dict):
        return obj
    obj = dict(obj)
    obj.pop(NAME_TABLE, None)
    split = obj.pop(SPLIT_TENSORS, None)
    if split is None:
        return obj
    problem = "its list of split tensors does not match its contents"
    if not isinstance(split, dict):
        raise WeightsError(f"{where}: {problem} ({SPLIT_TENSORS} is {brief(split)}, not a "
                           f"dict)")
    for key, info in split.items():
        names = info.get("slices") if isinstance(info, dict) else None
        shape = info.get("OriginShape") if isinstance(info, dict) else None
        if (type(key) is not str or not isinstance(names, (list, tuple))
                or not all(type(n) is str for n in names)
                or not isinstance(shape, (list, tuple)) or len(shape) > MAX_DIMS
                or not all(type(n) is int and 0 <= n <= MAX_DIM_SIZE for n in shape)
                or not all(isinstance(obj.get(n), np.ndarray) for n in names)
                or len(set(names)) != len(names)):
            raise WeightsError(f"{where}: {problem} (entry {brief(key)}: slices are names "
                               f"of tensors in the file, OriginShape a list of sizes)")
        parts = [obj[n] for n in names]
        count = 1
        for n in shape:
            count *= n
        if not parts or sum(p.size for p in parts) != count or len(
                {p.dtype for p in parts}) != 1:
            raise WeightsError(f"{where}: {problem}: the slices of {brief(key)} do "
                               f"not make up shape {tuple(shape)}")
        joined, start = np.empty(count, parts[0].dtype), 0
        del parts
        for n in names:
            part = obj.pop(n).reshape(-1)
            joined[start:start + part.size] = part
            start += part.size
            del part
        obj[key] = joined.reshape(tuple(shape))
    return obj
