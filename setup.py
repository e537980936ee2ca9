"""Build of minigrad: pure Python package plus the cffi extension minigrad._C."""
from setuptools import find_packages, setup

setup(
    name="minigrad",
    version="0.1.0",
    description="A tape-based autodiff mini-framework with C and Numba kernels",
    packages=find_packages(include=["minigrad", "minigrad.*"]),
    python_requires=">=3.10",
    install_requires=["numpy>=1.24", "cffi>=1.15", "numba>=0.58", "tqdm>=4.60"],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6", "torch==2.13.0"],
        "plot": ["matplotlib>=3.5"],
        # scale-out: Dask for hyperparameter search, MPI (mpi4py + the mpich wheel, which
        # brings mpiexec without system packages) for data-parallel training
        "distributed": ["dask[distributed]>=2024.1", "mpi4py>=3.1", "mpich>=4.1"],
    },
    cffi_modules=["csrc/build_ffi.py:ffibuilder"],
    entry_points={"console_scripts": ["minigrad=minigrad.__main__:main"]},
    zip_safe=False,
)
