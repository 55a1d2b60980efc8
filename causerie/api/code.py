"""Code routes: generate, fix and optimize code, each claim checked in the sandbox."""

from __future__ import annotations

from fastapi import APIRouter

from causerie.api.deps import CodeDep, PrincipalDep
from causerie.api.errors import error_responses
from causerie.protocol.code import (
    CodeFixRequest,
    CodeGenerateRequest,
    CodeOptimizeRequest,
    CodeOptimizeResult,
    CodeResult,
)

router = APIRouter(prefix="/v1/code", tags=["code"], responses=error_responses(400, 404, 503))


@router.post("/generate", response_model=CodeResult)
async def generate(request: CodeGenerateRequest, code: CodeDep, principal: PrincipalDep) -> CodeResult:
    """Write code from a description; with tests, retry on failures fed back from the sandbox."""
    return await code.generate(request, principal)


@router.post("/fix", response_model=CodeResult)
async def fix(request: CodeFixRequest, code: CodeDep, principal: PrincipalDep) -> CodeResult:
    """Fix code from a failing test or an error message, iterating on the sandbox's feedback."""
    return await code.fix(request, principal)


@router.post("/optimize", response_model=CodeOptimizeResult)
async def optimize(request: CodeOptimizeRequest, code: CodeDep, principal: PrincipalDep) -> CodeOptimizeResult:
    """Make code faster; accepted only with equal results on the inputs and passing tests, with the measured speedup."""
    return await code.optimize(request, principal)
