// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Safe} from "@safe-global/safe-contracts/contracts/Safe.sol";
import {SafeProxyFactory} from "@safe-global/safe-contracts/contracts/proxies/SafeProxyFactory.sol";
import {Enum} from "@safe-global/safe-contracts/contracts/common/Enum.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Test} from "./Test.sol";

/// @notice An ERC-20 anyone can mint, for tests.
contract TestToken is ERC20 {
    constructor() ERC20("Test USD", "TUSD") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @notice A module with no rules at all: the baseline a guarded action's gas is compared with.
contract PlainModule {
    Safe public immutable safe;

    constructor(Safe safe_) {
        safe = safe_;
    }

    function exec(address to, uint256 value, bytes calldata data) external returns (bool) {
        return safe.execTransactionFromModule(to, value, data, Enum.Operation.Call);
    }
}

/// @notice A real Safe 1.4.1 (singleton + proxy factory, as deployed on chains) with two of
///         three owners, and a helper that executes an owner transaction with real signatures.
abstract contract SafeHarness is Test {
    uint256 internal constant OWNER_KEY_1 = 0xA11CE;
    uint256 internal constant OWNER_KEY_2 = 0xB0B;
    uint256 internal constant OWNER_KEY_3 = 0xCA201;

    Safe internal safe;

    function deploySafe() internal returns (Safe) {
        Safe singleton = new Safe();
        SafeProxyFactory factory = new SafeProxyFactory();
        address[] memory owners = new address[](3);
        owners[0] = vm.addr(OWNER_KEY_1);
        owners[1] = vm.addr(OWNER_KEY_2);
        owners[2] = vm.addr(OWNER_KEY_3);
        bytes memory init = abi.encodeCall(
            Safe.setup, (owners, 2, address(0), "", address(0), address(0), 0, payable(address(0)))
        );
        safe = Safe(payable(address(factory.createProxyWithNonce(address(singleton), init, 1))));
        return safe;
    }

    /// @notice Execute `data` on `to` as the Safe, signed by owners 1 and 2 (sorted by address).
    function ownersExec(address to, bytes memory data) internal returns (bool) {
        bytes32 digest = safe.getTransactionHash(
            to, 0, data, Enum.Operation.Call, 0, 0, 0, address(0), payable(address(0)), safe.nonce()
        );
        uint256 a = OWNER_KEY_1;
        uint256 b = OWNER_KEY_2;
        if (vm.addr(a) > vm.addr(b)) (a, b) = (b, a);
        (uint8 va, bytes32 ra, bytes32 sa) = vm.sign(a, digest);
        (uint8 vb, bytes32 rb, bytes32 sb) = vm.sign(b, digest);
        bytes memory signatures = abi.encodePacked(ra, sa, va, rb, sb, vb);
        return safe.execTransaction(
            to, 0, data, Enum.Operation.Call, 0, 0, 0, address(0), payable(address(0)), signatures
        );
    }
}

/// @notice A 1:1 "pool" with Uniswap v2's swap signature: the swap-like call of the gas benchmark.
contract SwapLikeRouter {
    function swapExactTokensForTokens(
        uint256 amountIn,
        uint256 amountOutMin,
        address[] calldata path,
        address to,
        uint256 deadline
    ) external returns (uint256[] memory amounts) {
        require(block.timestamp <= deadline, "expired");
        require(amountIn >= amountOutMin, "slippage");
        TestToken(path[0]).transferFrom(msg.sender, address(this), amountIn);
        TestToken(path[path.length - 1]).transfer(to, amountIn);
        amounts = new uint256[](2);
        amounts[0] = amountIn;
        amounts[1] = amountIn;
    }
}
