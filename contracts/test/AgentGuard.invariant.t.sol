// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AgentGuard, IModuleAvatar} from "../src/AgentGuard.sol";
import {SafeHarness, TestToken} from "./utils/SafeHarness.sol";
import {Test} from "./utils/Test.sol";

/// @dev The fuzzer drives an agent (direct sends, split sends, queued sends, sends to a stranger),
///      the owners (pause, unpause, renew, revoke), a guardian (veto), the agent withdrawing a queued
///      action (and a stranger trying to) and the clock; the handler
///      records what actually left the Safe and any success that the policy should have refused.
contract GuardHandler is Test {
    AgentGuard public immutable guard;
    TestToken public immutable usd;
    address public immutable safe;
    address public immutable agent;
    address public immutable treasury;
    address public immutable stranger;
    address public immutable guardian;

    uint256[] public spendTimes;
    uint256[] public spendAmounts;
    uint256 public violations;
    uint256 private _nonce;

    struct Pending {
        bytes data;
        bytes32 decision;
        bytes32 id;
        uint256 eta;
        bool vetoed; // vetoed by the guardian or withdrawn by the agent: never to execute
        bool done;
    }

    Pending[] private _pending;

    constructor(AgentGuard guard_, TestToken usd_, address agent_, address treasury_, address stranger_, address guardian_) {
        guard = guard_;
        usd = usd_;
        safe = address(guard_.safe());
        agent = agent_;
        treasury = treasury_;
        stranger = stranger_;
        guardian = guardian_;
    }

    function _allowedNow() private view returns (bool) {
        (, uint64 expiry, bool active) = guard.grants(agent);
        return active && !guard.paused() && block.timestamp < expiry;
    }

    function _record(uint256 amount) private {
        spendTimes.push(block.timestamp);
        spendAmounts.push(amount);
    }

    function send(uint256 amount, bool toStranger) public {
        amount = bound(amount, 1, 700e18);
        address to = toStranger ? stranger : treasury;
        bool allowed = _allowedNow();
        vm.prank(agent);
        try guard.execute(address(usd), 0, abi.encodeCall(usd.transfer, (to, amount)), bytes32(++_nonce)) {
            if (!allowed || toStranger) ++violations;
            _record(amount);
        } catch {}
    }

    function sendSplit(uint256 amount, uint8 parts) external {
        parts = uint8(bound(parts, 2, 12));
        for (uint256 i = 0; i < parts; ++i) {
            send(amount / parts, false);
        }
    }

    function queueBig(uint256 amount) external {
        amount = bound(amount, 401e18, 600e18);
        bytes memory data = abi.encodeCall(usd.transfer, (treasury, amount));
        bytes32 decision = bytes32(++_nonce);
        vm.prank(agent);
        try guard.queue(address(usd), 0, data, decision) returns (bytes32 id) {
            _pending.push(Pending(data, decision, id, block.timestamp + guard.delay(), false, false));
        } catch {}
    }

    function executeQueued(uint256 index) external {
        if (_pending.length == 0) return;
        Pending storage p = _pending[bound(index, 0, _pending.length - 1)];
        bool allowed = _allowedNow() && !p.vetoed && !p.done && block.timestamp >= p.eta;
        vm.prank(agent);
        try guard.executeQueued(address(usd), 0, p.data, p.decision) {
            if (!allowed) ++violations;
            p.done = true;
            (, uint256 amount) = abi.decode(_slice(p.data), (address, uint256));
            _record(amount);
        } catch {}
    }

    function veto(uint256 index) external {
        if (_pending.length == 0) return;
        Pending storage p = _pending[bound(index, 0, _pending.length - 1)];
        vm.prank(guardian);
        try guard.veto(p.id) {
            p.vetoed = true;
        } catch {}
    }

    function withdraw(uint256 index, bool asStranger) external {
        if (_pending.length == 0) return;
        Pending storage p = _pending[bound(index, 0, _pending.length - 1)];
        vm.prank(asStranger ? stranger : agent);
        try guard.withdraw(p.id) {
            if (asStranger) ++violations;
            p.vetoed = true;
        } catch {}
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
    }

    function pause() external {
        vm.prank(guardian);
        guard.pause();
    }

    function unpause() external {
        vm.prank(safe);
        guard.unpause();
    }

    function renew(uint256 seconds_) external {
        (, , bool active) = guard.grants(agent);
        if (!active) return;
        vm.prank(safe);
        guard.renew(agent, uint64(block.timestamp + bound(seconds_, 1, 10 days)));
    }

    function revoke() external {
        (, , bool active) = guard.grants(agent);
        if (!active) return;
        vm.prank(agent);
        guard.revoke(agent);
    }

    function spendCount() external view returns (uint256) {
        return spendTimes.length;
    }

    function _slice(bytes memory data) private pure returns (bytes memory out) {
        out = new bytes(data.length - 4);
        for (uint256 i = 0; i < out.length; ++i) {
            out[i] = data[i + 4];
        }
    }
}

contract AgentGuardInvariantTest is SafeHarness {
    uint128 internal constant CAP = 1_000e18;
    uint32 internal constant WINDOW = 1 days;

    AgentGuard internal guard;
    TestToken internal usd;
    GuardHandler internal handler;
    address internal agent = address(0xA6E47);
    address internal treasury = address(0x7EA5);
    address internal stranger = address(0xBAD);
    address internal guardian = address(0x6A4D);

    function setUp() public {
        vm.warp(1_700_000_000);
        deploySafe();
        guard = new AgentGuard(IModuleAvatar(address(safe)), 1 hours);
        usd = new TestToken();
        usd.mint(address(safe), 10_000_000e18);
        require(ownersExec(address(safe), abi.encodeCall(safe.enableModule, (address(guard)))), "enable");
        vm.startPrank(address(safe));
        guard.grant(agent, uint64(block.timestamp + 5 days));
        guard.setScope(
            agent,
            address(usd),
            IERC20.transfer.selector,
            AgentGuard.Scope({allowed: true, recipientArg: 0, amountArg: 1, capToken: address(usd), maxAmount: 0})
        );
        guard.setRecipient(agent, treasury, true);
        guard.setCap(agent, address(usd), CAP, WINDOW, 400e18);
        guard.setGuardian(guardian, true);
        vm.stopPrank();
        handler = new GuardHandler(guard, usd, agent, treasury, stranger, guardian);
        targetContract(address(handler));
    }

    function invariant_neverMoreThanTheCapInAnyWindow() public view {
        uint256 n = handler.spendCount();
        for (uint256 i = 0; i < n; ++i) {
            uint256 start = handler.spendTimes(i);
            uint256 sum;
            for (uint256 j = i; j < n && handler.spendTimes(j) < start + WINDOW; ++j) {
                sum += handler.spendAmounts(j);
            }
            vm.assertTrue(sum <= CAP, "over the cap within one window");
        }
    }

    function invariant_nothingOutsideThePolicy() public view {
        vm.assertEq(handler.violations(), 0, "an action succeeded that the policy refuses");
        vm.assertEq(usd.balanceOf(stranger), 0, "a non-allowlisted recipient was paid");
    }

    function invariant_treasuryGotExactlyTheRecordedSpends() public view {
        uint256 n = handler.spendCount();
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            total += handler.spendAmounts(i);
        }
        vm.assertEq(usd.balanceOf(treasury), total, "moved funds match the recorded actions");
    }
}
