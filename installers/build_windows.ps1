# Build the Windows one-folder bundle dist\EmbryoGrade\ and run its --self-test.
#
#   powershell -ExecutionPolicy Bypass -File installers\build_windows.ps1 `
#       [-Cuda cu128] [-Archive] [-NoSelfTest] [-SelfTestModel CKPT] [-RequireModel]
#
# Same options as build_linux.sh. -Cuda TAG builds the CUDA variant in a
# separate venv (build\venv-TAG) with the torch wheel of requirements.txt from
# the PyTorch index for TAG. The bundle holds EmbryoGrade.exe (windowed, for
# users) and EmbryoGrade-cli.exe (console: command line and --self-test).
# Python: $env:PYTHON, else .venv\Scripts\python.exe, else python on PATH; it
# must already hold requirements.txt.
param(
    [string]$Cuda = "",
    [switch]$Archive,
    [switch]$NoSelfTest,
    [string]$SelfTestModel = "",
    [switch]$RequireModel
)
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)

function Invoke-Checked {
    # PowerShell does not stop on a failing native command by itself.
    $exe, $rest = $args
    & $exe @rest
    if ($LASTEXITCODE -ne 0) { throw "failed ($LASTEXITCODE): $($args -join ' ')" }
}

if ($env:PYTHON) { $Py = $env:PYTHON }
elseif (Test-Path .venv\Scripts\python.exe) { $Py = ".venv\Scripts\python.exe" }
else { $Py = "python" }

if (-not (Test-Path resources\models\default.pt)) {
    if ($RequireModel) { throw "resources\models\default.pt is missing; a release bundle must carry the model" }
    Write-Warning "resources\models\default.pt is missing: the bundle will carry no model"
}

$Variant = "cpu"
if ($Cuda) {
    # A separate venv: a CUDA torch must not replace the CPU one of the dev venv.
    $Variant = $Cuda
    $Venv = "build\venv-$Cuda"
    $TorchPin = (Select-String -Path requirements.txt -Pattern '^torch==').Line
    if (-not (Test-Path "$Venv\Scripts\python.exe")) {
        Invoke-Checked $Py -m venv $Venv
        Invoke-Checked "$Venv\Scripts\python.exe" -m pip install --upgrade pip
    }
    Remove-Item Env:PIP_EXTRA_INDEX_URL -ErrorAction SilentlyContinue  # a CPU index could win
    Invoke-Checked "$Venv\Scripts\python.exe" -m pip install $TorchPin --index-url "https://download.pytorch.org/whl/$Cuda"
    Invoke-Checked "$Venv\Scripts\python.exe" -m pip install -r requirements.txt
    $Py = "$Venv\Scripts\python.exe"
}

Invoke-Checked $Py -m pip install -q -r installers\requirements-build.txt
Invoke-Checked $Py -c "import torch; print('building with torch', torch.__version__, 'CUDA', torch.version.cuda)"

if (Test-Path dist\EmbryoGrade) { Remove-Item -Recurse -Force dist\EmbryoGrade }
$Watch = [Diagnostics.Stopwatch]::StartNew()
Invoke-Checked $Py -m PyInstaller --noconfirm --clean --log-level WARN `
    --distpath dist --workpath "build\pyinstaller-$Variant" installers\embryograde.spec
$Bytes = (Get-ChildItem -Recurse -File dist\EmbryoGrade | Measure-Object -Sum Length).Sum
"built dist\EmbryoGrade in {0:N0} s: {1:N2} GB (variant {2})" -f $Watch.Elapsed.TotalSeconds, ($Bytes / 1GB), $Variant

if (-not $NoSelfTest) {
    $env:QT_QPA_PLATFORM = "offscreen"
    Remove-Item Env:PYTHONPATH -ErrorAction SilentlyContinue
    if ($SelfTestModel) { $env:EMBRYOGRADE_MODEL = (Resolve-Path $SelfTestModel).Path }
    try { Invoke-Checked dist\EmbryoGrade\EmbryoGrade-cli.exe --self-test }
    finally { Remove-Item Env:EMBRYOGRADE_MODEL -ErrorAction SilentlyContinue }
}

if ($Archive) {
    $Version = & $Py -c "from app.version import __version__; print(__version__)"
    $Name = "EmbryoGrade-$Version-windows-x86_64-$Variant.zip"
    Compress-Archive -Path dist\EmbryoGrade -DestinationPath "dist\$Name" -Force
    "archive: dist\$Name"
}
