"""Label model tests run BLAS single-threaded (only while this package's tests run).

MatrixCompletion makes hundreds of tiny BLAS calls per fit (L-BFGS on k x k and mk x k
products). On a loaded 2-core machine OpenBLAS's thread hand-offs made them about 7x slower
(tests/labelmodel/test_auto.py: 28 s vs 4 s). Results do not depend on the thread count beyond
rounding, which every test here tolerates.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="package")
def _single_threaded_blas() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield
